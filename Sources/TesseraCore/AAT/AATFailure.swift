/// Why an AAT chain, a call on it or its proof was refused: which link (0 = root), which step of
/// draft-01 §7, and what failed. `credential` separates "this token is not genuine or not valid
/// now" (signature, trust anchor, time: HTTP 401) from "this token is genuine but not acceptable
/// here" (shape, widening, the call: 403).
public struct AATFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public var link: Int?
    public var step: String
    public var message: String
    public var credential: Bool

    public init(link: Int?, step: String, _ message: String, credential: Bool = false) {
        self.link = link
        self.step = step
        self.message = message
        self.credential = credential
    }

    public var description: String {
        let place = link.map { "link \($0)\($0 == 0 ? " (root)" : "")" } ?? "chain"
        return "\(place), step \(step): \(message)"
    }

    /// A parsing problem, placed in a link and step by the caller.
    public struct Detail: Error, Equatable, Sendable {
        public var message: String
        public init(_ message: String) { self.message = message }
    }
}
