import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import TesseraCore
import TesseraStore

/// The parts a running server is made of, built once and shared by the HTTP layer and tests.
public struct ServerEnvironment: Sendable {
    public let configuration: ServerConfiguration
    public let store: any TesseraStore
    public let keys: SigningKeyService
    public let authenticator: Authenticator
    public let iam: IAMService
    public let governance: GovernanceService
    public let badges: BadgeService
    /// The registry's public origin (`iss` of badges); see ``RegistryOrigin``.
    public let origin: RegistryOrigin
    public let statusLists: StatusListService
    /// The OAuth 2.1 authorization server of the MCP gateway.
    public let oauth: OAuthService
    public let clock: any TesseraClock
    public let logger: Logger
    /// The audit stream (docs/audit.md); ``AuditLog/disabled`` without sinks.
    public let audit: AuditLog

    public init(
        configuration: ServerConfiguration, store: any TesseraStore, clock: any TesseraClock = SystemClock(),
        logger: Logger, audit: AuditLog = .disabled
    ) async throws {
        self.configuration = configuration
        self.audit = audit
        self.store = store
        self.clock = clock
        self.logger = logger
        self.keys = try await SigningKeyService(
            store: store, clock: clock, gracePeriod: TimeInterval(configuration.keyGraceSeconds), logger: logger)
        self.authenticator = Authenticator(
            store: store, keys: keys, clock: clock, issuer: configuration.issuer,
            cacheTTL: TimeInterval(configuration.authCacheSeconds), logger: logger)
        var settings = IAMSettings(issuer: configuration.issuer)
        settings.bootstrapMode = configuration.bootstrapMode.flatMap(IAMSettings.BootstrapMode.init(rawValue:))
        settings.passwordIterations = configuration.passwordIterations
        settings.cacheTTL = TimeInterval(configuration.authCacheSeconds)
        settings.loginLifetime = TimeInterval(configuration.loginTTLSeconds)
        var iam = IAMService(
            store: store, keys: keys, authenticator: authenticator, clock: clock, settings: settings, logger: logger)
        iam.auditLog = audit
        self.iam = iam
        self.origin = RegistryOrigin(configuration.registryOrigin)
        var badgeSettings = BadgeSettings()
        badgeSettings.minimumLifetime = configuration.badgeMinimumLifetimeSeconds
        badgeSettings.defaultLifetime = max(badgeSettings.defaultLifetime, configuration.badgeMinimumLifetimeSeconds)
        badgeSettings.maximumLifetime = max(badgeSettings.maximumLifetime, configuration.badgeMinimumLifetimeSeconds)
        badgeSettings.statusTTL = configuration.statusListTTLSeconds
        self.statusLists = StatusListService(store: store, keys: keys, clock: clock, origin: origin, ttl: badgeSettings.statusTTL)
        var governance = GovernanceService(
            store: store, keys: keys, clock: clock, issuer: configuration.issuer, statusLists: statusLists, logger: logger,
            aat: try await AATPolicy.load(configuration: configuration, origin: origin), statusTTL: configuration.statusListTTLSeconds)
        governance.auditLog = audit
        if let relay = store as? any FeedRelayStore {
            governance.fleet = FleetFeed(relay: relay, feed: governance.feed, logger: logger)
        }
        self.governance = governance
        var badges = BadgeService(
            store: store, keys: keys, clock: clock, origin: origin, statusLists: statusLists, settings: badgeSettings, logger: logger)
        badges.auditLog = audit
        self.badges = badges
        self.oauth = OAuthService(
            store: store, governance: governance, iam: iam, badges: badges, origin: origin, upstreams: Array(configuration.mcpUpstreams.keys),
            clock: clock, logger: logger, cimdAllowOrigins: configuration.oauthCIMDAllowOrigins)
    }

    /// The start-up audit event: the effective configuration (the summary, which holds no secret).
    public func recordStart() {
        let summary = configuration.summary
        audit.record(
            .configurationLoaded, outcome: "success", actor: .system, target: .init(type: "configuration", id: configuration.issuer)
        ) { event in
            event.details = Dictionary(summary, uniquingKeysWith: { _, last in last })
            event.details?["version"] = TesseraVersion.current
        }
    }

    /// Start-up rule for a store with no users: a bootstrap mode must be chosen (no permissive
    /// default); in `token` mode the operator's token becomes the admin's API key now.
    public func prepareBootstrap() async throws {
        guard try await !store.hasUsers() else { return }
        switch configuration.bootstrapMode {
        case nil:
            throw ConfigurationError.invalid(
                name: "bootstrap_mode",
                value: "(none) — this store has no users: start with --bootstrap-mode bootstrap (then POST /api/v1/auth/bootstrap) or --bootstrap-mode token --bootstrap-token T")
        case "token":
            if try await iam.bootstrapWithToken(configuration.bootstrapToken ?? "") {
                logger.notice("bootstrapped with the operator's token as the admin API key")
            }
        default:
            logger.notice("bootstrap available: POST /api/v1/auth/bootstrap once to create the admin")
        }
    }
}

/// Builds the router: middleware first, then every controller with its declared access.
public func buildRouter(_ environment: ServerEnvironment) throws -> (Router<TesseraRequestContext>, [RouteDeclaration]) {
    _ = TesseraMetrics.registry
    let router = Router(context: TesseraRequestContext.self)
    let table = RouteTable()
    if Telemetry.isTracing {
        // A server span per request, continuing the caller's W3C trace context.
        router.addMiddleware { HTTPTracingMiddleware() }
    }
    router.addMiddleware {
        RequestGuardMiddleware(routes: table)
        LogRequestsMiddleware(.debug)
        MetricsMiddleware()
    }
    let authorizer = IAMAuthorizer(authenticator: environment.authenticator)
    let routes = SecuredRouter(router: router, authorizer: authorizer)
    try HealthController(store: environment.store).register(on: routes)
    try MetricsController().register(on: routes)
    try JWKSController(keys: environment.keys).register(on: routes)
    try OpenAPIController().register(on: routes)
    try IAMController(iam: environment.iam).register(on: routes)
    try BadgeController(badges: environment.badges, authenticator: environment.authenticator).register(on: routes)
    // The governance surface answers errors in its own flat shape.
    let governanceRoutes = SecuredRouter(router: router.group().add(middleware: FlatErrorMiddleware()), authorizer: authorizer)
    try GovernanceController(governance: environment.governance, store: environment.store).register(on: governanceRoutes)
    // The OpenID AuthZEN API answers errors in its own shape and echoes the PEP's X-Request-ID.
    let authZENRoutes = SecuredRouter(router: router.group().add(middleware: AuthZENErrorMiddleware()), authorizer: authorizer)
    try AuthZENController(
        authZEN: AuthZENService(governance: environment.governance, store: environment.store), origin: environment.origin
    ).register(on: authZENRoutes)
    try MCPGatewayController(
        upstreams: environment.configuration.mcpUpstreams, origin: environment.origin,
        governance: environment.governance, store: environment.store, clock: environment.clock, logger: environment.logger,
        oauth: environment.oauth
    ).register(on: routes)
    try OAuthController(oauth: environment.oauth, secureCookies: environment.origin.current.hasPrefix("https://")).register(on: routes)
    try ConsoleController(
        console: ConsoleService(
            store: environment.store, keys: environment.keys, badges: environment.badges, feed: environment.governance.feed,
            clock: environment.clock),
        feed: environment.governance.feed, authenticator: environment.authenticator, logger: environment.logger
    ).register(on: routes)
    let declarations = routes.declarations + governanceRoutes.declarations + authZENRoutes.declarations
    table.install(declarations)
    return (router, declarations)
}

/// The Hummingbird application for `tessera serve`, with the key refresher, the API-key usage
/// writer and the credential change follower as services under the same graceful-shutdown
/// lifecycle.
public func buildApplication(
    _ environment: ServerEnvironment, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let (router, _) = try buildRouter(environment)
    let configuration = environment.configuration
    let socket = SocketSession(authenticator: environment.authenticator, iam: environment.iam, logger: environment.logger)
    return Application(
        router: router,
        server: .guardedWebSocketUpgrade(limits: configuration.connectionLimits) { request, _, _ in
            // Only the socket path upgrades; it authenticates in-band (first frame).
            guard request.path?.split(separator: "?").first.map(String.init) == SocketSession.path else { return .dontUpgrade }
            return .upgrade([:]) { inbound, outbound, _ in try await socket.run(inbound: inbound, outbound: outbound) }
        },
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "tessera",
            availableConnectionsDelegate: ConnectionCap(maximum: configuration.connectionLimits.maximumConnections, logger: environment.logger)
        ),
        services: [
            KeyRefreshService(
                keys: environment.keys, period: .seconds(configuration.keyRefreshSeconds), logger: environment.logger),
            APIKeyUsageService(authenticator: environment.authenticator, period: .seconds(5)),
            CredentialChangeFollower(
                store: environment.store, authenticator: environment.authenticator,
                revocations: environment.governance.revocations, logger: environment.logger),
            environment.audit,
        ] + (environment.governance.fleet.map { [$0] } ?? []),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.port
            if configuration.publicURL == nil {
                var bound = configuration
                bound.port = port
                environment.origin.set(bound.registryOrigin)
            }
            await onServerRunning(port)
        },
        logger: environment.logger
    )
}
