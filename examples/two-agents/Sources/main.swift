// Two agents: the caller connects with the SDK (PoP badge kept fresh) and calls the callee's
// HTTP endpoint with its badge; the callee admits it through BadgeAuthMiddleware.
//
//   two-agents-example callee --server URL --public-url http://127.0.0.1:PORT
//   two-agents-example caller --server URL --agent ID --keys-dir DIR --target URL
import AsyncHTTPClient
import Foundation
import Hummingbird
import TesseraBadgeMiddleware
import TesseraClient
import TesseraCore

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

guard arguments.count > 1, let server = option("--server") else {
    FileHandle.standardError.write(Data("usage: two-agents-example callee|caller --server URL …\n".utf8))
    exit(2)
}

switch arguments[1] {
case "callee":
    // Trusts the registry at --server as the issuer; demands IAL-1 and a DPoP proof per request.
    // The proof names the URL the caller used: it is checked against --public-url (what callers
    // use to reach this service), never against the Host header, which the caller chooses; a
    // service that demands proofs cannot start without it. The verifier's audience is this same
    // URL: a badge addressed to other services (its `aud`) is refused here.
    guard let publicURL = option("--public-url"), let listen = URLComponents(string: publicURL), let port = listen.port else {
        FileHandle.standardError.write(Data("callee: --public-url http://127.0.0.1:PORT is required (the URL callers use)\n".utf8))
        exit(2)
    }
    let verifier = try RegistryBadgeVerifier(server: server, audience: publicURL, minimumIAL: 1, requireFreshStatus: true)
    let router = Router(context: BasicBadgeRequestContext.self)
    router.add(middleware: try BadgeAuthMiddleware(verifier: verifier, requireProof: true, publicOrigin: publicURL))
    router.get("/hello") { _, context in
        "hello \(context.badge?.sub ?? "?") (IAL-\(context.badge?.ial ?? "?"), agent \(context.badge?.agent_id ?? "?"))\n"
    }
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
        onServerRunning: { channel in
            FileHandle.standardError.write(Data("callee: listening on http://127.0.0.1:\(channel.localAddress?.port ?? port)\n".utf8))
        })
    try await app.runService()

case "caller":
    guard let agent = option("--agent"), let target = option("--target") else { exit(2) }
    let identity = try await Tessera.connect(server: server, agentID: agent, keysDir: option("--keys-dir"))
    defer { identity.close() }
    FileHandle.standardError.write(Data("caller: holding an IAL-\(identity.assurance) badge until \(identity.expires)\n".utf8))
    var request = HTTPClientRequest(url: target + "/hello")
    identity.authorize(&request)
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 1 << 20)
    print("caller: callee answered \(response.status.code): \(String(buffer: body))", terminator: "")

default:
    exit(2)
}
