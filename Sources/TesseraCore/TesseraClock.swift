import Foundation

/// The source of "now" for every time-based security decision.
///
/// Injected rather than read from `Date()` so that expiry, not-before and grace-period rules can be
/// tested at exact boundaries without sleeping.
public protocol TesseraClock: Sendable {
    func now() -> Date
}

/// Wall-clock time.
public struct SystemClock: TesseraClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that reads a fixed instant, for deterministic tests and offline verification "as of".
public struct FixedClock: TesseraClock {
    public let instant: Date
    public init(_ instant: Date) { self.instant = instant }
    public func now() -> Date { instant }
}

extension Date {
    /// Whole seconds since the Unix epoch, the unit of every JWT time claim.
    public var unixSeconds: Int64 { Int64(timeIntervalSince1970.rounded(.down)) }
}
