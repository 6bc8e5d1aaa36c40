import Benchmark
import Foundation
import Hummingbird
import Logging
import TesseraBadgeMiddleware
import TesseraClient
import TesseraCore

/// A request context for calling the middleware directly, without a server or a channel.
struct BenchBadgeContext: BadgeRequestContext {
    struct Source: RequestContextSource { var logger: Logger }
    var coreContext: CoreRequestContextStorage
    var badge: BadgeClaims?
    init(source: Source) { coreContext = .init(source: source) }
}

/// One request through `BadgeAuthMiddleware`: header parsing, the badge's signature and claims,
/// the (already verified) status list, the context update, the next handler. The verifier is
/// primed with the registry's JWKS and status list as its background refresh would leave it.
func badgeMiddlewareBenchmark(configuration: Benchmark.Configuration) {
    let registry = Ed25519KeyPair()
    let agent = Ed25519KeyPair()
    let now = Date().unixSeconds
    let badge = try! CompactJWS.sign(
        BadgeClaims(iss: "https://registry.example", sub: agent.publicKey.did, aud: ["svc"], iat: now, exp: now + 3600, ial: "1",
                    domain: "agent.example", workspace: "default", agentID: "a1", jkt: agent.publicKey.thumbprint),
        type: BadgeClaims.type, key: registry)
    let status = try! CompactJWS.sign(
        BadgeStatusClaims(iss: "https://registry.example", iat: now, ttl: 3600, revoked: (0..<100).map { "r\($0)" }, disabledAgents: []),
        type: BadgeStatusClaims.type, key: registry)
    var jwk = registry.publicKey.jwk
    jwk.kid = registry.kid
    let verifier = try! RegistryBadgeVerifier(
        server: "http://127.0.0.1:9", verification: BadgeVerification(trustedIssuers: ["https://registry.example"], audience: "svc", minimumIAL: 1))
    let middleware = BadgeAuthMiddleware<BenchBadgeContext>(verifier: verifier)
    let request = Request(
        head: HTTPRequest(method: .get, scheme: "http", authority: "svc", path: "/", headerFields: [.authorization: "Bearer \(badge)"]),
        body: RequestBody(buffer: ByteBuffer()))
    let context = BenchBadgeContext(source: .init(logger: Logger(label: "bench")))
    Benchmark("BadgeAuthMiddleware: one request, badge verified", configuration: configuration) { benchmark in
        await verifier.prime(jwks: JWKSet(keys: [jwk]), statusToken: status)
        let admitted = try await middleware.handle(request, context: context) { _, _ in Response(status: .ok) }
        precondition(admitted.status == .ok, "the benchmark's badge must be admitted")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await middleware.handle(request, context: context) { _, _ in Response(status: .ok) })
        }
    }
}
