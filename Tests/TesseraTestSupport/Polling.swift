/// Polls `condition` every `interval` until it holds or `limit` has passed; its last answer.
///
/// For waiting on an asynchronous event (another process, a background task), never for time
/// to pass: time-based rules are tested with an injected clock.
@discardableResult
public func eventually(
    within limit: Duration, every interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}
