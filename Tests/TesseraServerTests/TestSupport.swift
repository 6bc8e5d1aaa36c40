import Foundation
import Logging
import TesseraCore
import TesseraStore
import TesseraTestSupport

@testable import TesseraServer

/// A clock the test moves by hand, to cross grace-period and expiry boundaries without sleeping.
final class ManualClock: TesseraClock, Sendable {
    private let instant: SharedMutex<Date>

    init(_ instant: Date = Date()) { self.instant = SharedMutex(instant) }

    func now() -> Date { instant.withLock { $0 } }

    func advance(by seconds: TimeInterval) { instant.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// A server environment on a real SQLite file in a fresh state directory.
func makeEnvironment(
    clock: any TesseraClock = SystemClock(), directory: String = makeTemporaryDirectory(), audit: AuditLog = .disabled,
    configure: (inout ServerConfiguration) -> Void = { _ in }
) async throws -> ServerEnvironment {
    var configuration = ServerConfiguration()
    configuration.stateDirectory = directory
    configuration.port = 0
    configure(&configuration)
    let store = try SQLiteStore(stateDirectory: directory)
    return try await ServerEnvironment(
        configuration: configuration, store: store, clock: clock, logger: Logger(label: "test"), audit: audit)
}
