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
    let issuer = "https://registry.example"
    let uri = issuer + "/v1/status-lists/0"
    let badge = try! CompactJWS.sign(
        BadgeClaims(
            iss: issuer, sub: agent.publicKey.did, audience: ["svc"], iat: now, exp: now + 3600, ial: "1", key: agent.publicKey.publicJWK,
            cnf: .init(kid: DIDs.keyID(did: agent.publicKey.did, key: agent.publicKey)), level: "1", domain: "agent.example",
            status: StatusClaim(idx: 500, uri: uri), workspace: "default", agentID: "a1"),
        type: BadgeClaims.type, key: registry)
    // A list of 10^5 entries with 100 revoked, as the registry would publish it.
    var list = try! StatusList(bits: 2, count: 100_000)
    for index in 0..<100 { try! list.set(1, at: index * 997) }
    let status = try! CompactJWS.sign(StatusListClaims(iss: issuer, uri: uri, iat: now, ttl: 3600, list: list), type: StatusListClaims.type, key: registry)
    var jwk = registry.publicKey.jwk
    jwk.kid = registry.kid
    let verifier = try! RegistryBadgeVerifier(
        server: "http://127.0.0.1:9", verification: BadgeVerification(trustedIssuers: [issuer], audience: "svc", minimumIAL: 1))
    let middleware = try! BadgeAuthMiddleware<BenchBadgeContext>(verifier: verifier)
    let request = Request(
        head: HTTPRequest(method: .get, scheme: "http", authority: "svc", path: "/", headerFields: [.authorization: "Bearer \(badge)"]),
        body: RequestBody(buffer: ByteBuffer()))
    let context = BenchBadgeContext(source: .init(logger: Logger(label: "bench")))
    Benchmark("BadgeAuthMiddleware: one request, badge verified", configuration: configuration) { benchmark in
        await verifier.prime(jwks: JWKSet(keys: [jwk]), statusTokens: [uri: status])
        let admitted = try await middleware.handle(request, context: context) { _, _ in Response(status: .ok) }
        precondition(admitted.status == .ok, "the benchmark's badge must be admitted")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await middleware.handle(request, context: context) { _, _ in Response(status: .ok) })
        }
    }
}
