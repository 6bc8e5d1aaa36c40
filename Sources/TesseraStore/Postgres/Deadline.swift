import Synchronization

/// Bounds how long a caller waits for the database, whether or not the work cooperates.
///
/// A task group cannot do this: it returns only when every child has finished, and during an
/// outage postgres-nio work (a query on a connection whose server died, a lease queued on a pool
/// that is backing off) may ignore cancellation for a minute or more — measured: requests in
/// flight at `pg_ctl stop -m immediate` hung 60 s+ behind a 5 s task-group deadline. So the work
/// runs in its own task; at the deadline the caller is answered with ``DeadlineExceeded`` and the
/// work is cancelled and left to finish on its own (its result is dropped).
struct Deadline: Sendable {
    let duration: Duration

    init(_ duration: Duration) { self.duration = duration }

    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let outcome = Outcome<T>()
        let work = Task { try await body() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                outcome.install(continuation)
                let timer = Task { [duration] in
                    try? await Task.sleep(for: duration)
                    guard !Task.isCancelled else { return }
                    outcome.resume(.failure(DeadlineExceeded(deadline: duration)))
                    work.cancel()
                }
                Task {
                    let result = await work.result
                    timer.cancel()
                    outcome.resume(result)
                }
            }
        } onCancel: {
            work.cancel()
            outcome.resume(.failure(CancellationError()))
        }
    }

    /// The caller's continuation, resumed exactly once by whichever of work, timer and
    /// cancellation comes first. A resume before installation (cancellation racing the start) is
    /// kept and delivered when the continuation arrives.
    final class Outcome<T: Sendable>: Sendable {
        enum State {
            case waiting
            case installed(CheckedContinuation<T, any Error>)
            case early(Result<T, any Error>)
            case done
        }

        let state = Mutex<State>(.waiting)

        func install(_ continuation: CheckedContinuation<T, any Error>) {
            let early: Result<T, any Error>? = state.withLock { state in
                if case .early(let result) = state {
                    state = .done
                    return result
                }
                state = .installed(continuation)
                return nil
            }
            if let early { continuation.resume(with: early) }
        }

        func resume(_ result: Result<T, any Error>) {
            let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
                switch state {
                case .waiting:
                    state = .early(result)
                    return nil
                case .installed(let continuation):
                    state = .done
                    return continuation
                case .early, .done:
                    return nil
                }
            }
            continuation?.resume(with: result)
        }
    }
}

/// The database did not answer within the caller's deadline.
struct DeadlineExceeded: Error, CustomStringConvertible {
    let deadline: Duration
    var description: String { "database did not answer within \(deadline)" }
}
