import Foundation
import Hummingbird
import Logging
import TesseraCore
import TesseraStore

/// The parts a running server is made of, built once and shared by the HTTP layer and tests.
public struct ServerEnvironment: Sendable {
    public let configuration: ServerConfiguration
    public let store: any TesseraStore
    public let keys: SigningKeyService
    public let clock: any TesseraClock
    public let logger: Logger

    public init(
        configuration: ServerConfiguration, store: any TesseraStore, clock: any TesseraClock = SystemClock(),
        logger: Logger
    ) async throws {
        self.configuration = configuration
        self.store = store
        self.clock = clock
        self.logger = logger
        self.keys = try await SigningKeyService(
            store: store, clock: clock, gracePeriod: TimeInterval(configuration.keyGraceSeconds), logger: logger)
    }
}

/// Builds the router: middleware first, then every controller with its declared access.
public func buildRouter(_ environment: ServerEnvironment) throws -> (Router<TesseraRequestContext>, [RouteDeclaration]) {
    _ = TesseraMetrics.registry
    let router = Router(context: TesseraRequestContext.self)
    router.addMiddleware {
        RequestGuardMiddleware()
        LogRequestsMiddleware(.debug)
        MetricsMiddleware()
    }
    let routes = SecuredRouter(router: router, authorizer: nil)
    try HealthController(store: environment.store).register(on: routes)
    try MetricsController().register(on: routes)
    try JWKSController(keys: environment.keys).register(on: routes)
    return (router, routes.declarations)
}

/// The Hummingbird application for `tessera serve`, with the key refresher as a service under
/// the same graceful-shutdown lifecycle.
public func buildApplication(
    _ environment: ServerEnvironment, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let (router, _) = try buildRouter(environment)
    let configuration = environment.configuration
    return Application(
        router: router,
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "tessera"
        ),
        services: [
            KeyRefreshService(
                keys: environment.keys, period: .seconds(configuration.keyRefreshSeconds), logger: environment.logger)
        ],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: environment.logger
    )
}
