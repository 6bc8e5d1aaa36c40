/// Resource globs: `*` matches within one path segment, `**` any number of segments, `?` one
/// character. Compiled once per passport; matching is linear in practice.
public struct Glob: Sendable, Hashable {
    public let pattern: String
    let segments: [Substring]
    let absolute: Bool

    public init(_ pattern: String) {
        self.pattern = pattern
        self.segments = Self.split(pattern)
        self.absolute = pattern.hasPrefix("/")
    }

    static func split(_ value: String) -> [Substring] {
        // A URL's "scheme://authority" stays one segment.
        if !value.hasPrefix("/"), let range = value.range(of: "://") {
            let rest = value[range.upperBound...]
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            return [value[..<end]] + value[end...].split(separator: "/", omittingEmptySubsequences: true)
        }
        return value.split(separator: "/", omittingEmptySubsequences: true)
    }

    /// Whether a normalised path matches.
    public func matches(_ path: String) -> Bool {
        guard path.hasPrefix("/") == absolute else { return false }
        return Self.match(segments[...], Self.split(path)[...])
    }

    static func match(_ pattern: ArraySlice<Substring>, _ path: ArraySlice<Substring>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = pattern.dropFirst()
            var remaining = path
            while true {
                if match(rest, remaining) { return true }
                guard !remaining.isEmpty else { return false }
                remaining = remaining.dropFirst()
            }
        }
        guard let segment = path.first else { return false }
        let matched = first.utf8.withContiguousStorageIfAvailable { p in
            segment.utf8.withContiguousStorageIfAvailable { t in matchSegment(p[...], t[...]) }
        } ?? nil
        guard matched ?? matchSegment(Array(first.utf8)[...], Array(segment.utf8)[...]) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    static func matchSegment<C: RandomAccessCollection<UInt8>>(_ pattern: C, _ text: C) -> Bool where C.Index == Int {
        var p = pattern.startIndex, t = text.startIndex
        var star: Int? = nil, mark = text.startIndex
        while t < text.endIndex {
            if p < pattern.endIndex, pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if p < pattern.endIndex, pattern[p] == UInt8(ascii: "*") {
                star = p
                mark = t
                p += 1
            } else if let s = star {
                p = s + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }

    /// Whether every path `child` can match is also matched by `self`. Conservative: it may refuse
    /// a narrowing it cannot prove, never accept a widening.
    public func covers(_ child: Glob) -> Bool {
        guard absolute == child.absolute else { return false }
        return Self.covers(segments[...], child.segments[...])
    }

    static func covers(_ parent: ArraySlice<Substring>, _ child: ArraySlice<Substring>) -> Bool {
        guard let p = parent.first else { return child.isEmpty }
        if p == "**" {
            if covers(parent.dropFirst(), child) { return true }
            return !child.isEmpty && covers(parent, child.dropFirst())
        }
        guard let c = child.first, c != "**" else { return false }
        let childHasWildcard = c.contains("*") || c.contains("?")
        let segmentCovered = childHasWildcard
            ? (p == "*" || p == c)
            : matchSegment(Array(p.utf8)[...], Array(c.utf8)[...])
        return segmentCovered && covers(parent.dropFirst(), child.dropFirst())
    }
}
