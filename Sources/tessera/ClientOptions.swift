import ArgumentParser
import Foundation
import TesseraClient

#if canImport(Glibc)
import Glibc
#endif

/// `--server` / `--token` / `--json`, shared by every command that talks to a server.
struct ClientOptions: ParsableArguments {
    @Option(help: "Server URL. Default TESSERA_SERVER or http://127.0.0.1:8787.") var server: String?
    @Option(help: "Bearer credential (login JWT or API key). Default TESSERA_TOKEN.") var token: String?
    @Flag(help: "Print the server's JSON response.") var json = false

    func client(requireToken: Bool = true) throws -> TesseraHTTPClient {
        let environment = ProcessInfo.processInfo.environment
        let url = server ?? environment["TESSERA_SERVER"] ?? "http://127.0.0.1:8787"
        let credential = token ?? environment["TESSERA_TOKEN"]
        if requireToken, credential?.isEmpty ?? true {
            throw ValidationError("a credential is required: --token or TESSERA_TOKEN")
        }
        do {
            return try TesseraHTTPClient(baseURL: url, token: credential)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Reads a secret without echoing it: from the terminal when there is one, else one line of stdin.
enum SecretPrompt {
    static func read(_ prompt: String) throws -> String {
        if isatty(STDIN_FILENO) == 1 {
            Output.context(prompt, terminator: "")
            var original = termios()
            tcgetattr(STDIN_FILENO, &original)
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
            defer {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
                Output.context("")
            }
            guard let line = readLine(strippingNewline: true) else { throw CLIFailure("no input") }
            return line
        }
        guard let line = readLine(strippingNewline: true) else { throw CLIFailure("expected the secret on standard input") }
        return line
    }
}
