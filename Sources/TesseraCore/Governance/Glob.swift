/// Resource globs: `*` matches within one path segment, `**` any number of segments, `?` one
/// character. Compiled once per passport; matching is O(pattern × path) in the worst case.
public struct Glob: Sendable, Hashable {
    public let pattern: String
    let segments: [Substring]
    /// Which segments are `**`, decided once: comparing a `Substring` with "**" at every step of
    /// every match was a measurable part of an evaluation.
    let doubleStars: [Bool]
    let absolute: Bool

    public init(_ pattern: String) {
        self.pattern = pattern
        self.segments = Self.split(pattern)
        self.doubleStars = segments.map { $0 == "**" }
        self.absolute = pattern.utf8.first == UInt8(ascii: "/")
    }

    static func split(_ value: String) -> [Substring] {
        // A URL's "scheme://authority" stays one segment.
        if !value.hasPrefix("/"), let range = schemeSeparator(value) {
            let rest = value[range.upperBound...]
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            return [value[..<end]] + value[end...].split(separator: "/", omittingEmptySubsequences: true)
        }
        return value.split(separator: "/", omittingEmptySubsequences: true)
    }

    /// Where `://` is, by a byte scan (Foundation's `range(of:)` costs more than the whole match).
    static func schemeSeparator(_ value: String) -> Range<String.Index>? {
        let utf8 = value.utf8
        var index = utf8.startIndex
        var state = 0
        while index != utf8.endIndex {
            let byte = utf8[index]
            switch (state, byte) {
            case (_, UInt8(ascii: ":")): state = 1
            case (1, UInt8(ascii: "/")): state = 2
            case (2, UInt8(ascii: "/")):
                let start = utf8.index(index, offsetBy: -2)
                return start..<utf8.index(after: index)
            default: state = 0
            }
            index = utf8.index(after: index)
        }
        return nil
    }

    /// Whether any of `globs` matches `path`, splitting the path once for all of them.
    public static func anyMatches(_ globs: [Glob], _ path: String) -> Bool {
        let absolute = path.utf8.first == UInt8(ascii: "/")
        let segments = split(path)[...]
        return globs.contains { $0.absolute == absolute && $0.match(segments) }
    }

    /// Whether a normalised path matches.
    public func matches(_ path: String) -> Bool {
        guard (path.utf8.first == UInt8(ascii: "/")) == absolute else { return false }
        return match(Self.split(path)[...])
    }

    /// Segment-list matching in O(pattern × path) segment comparisons, whatever the pattern.
    ///
    /// `**` is to segments what `*` is to characters, so the classic wildcard algorithm applies:
    /// walk both lists, remember only the *last* `**` and where the path stood when it was seen,
    /// and on a mismatch let that `**` swallow one more segment. Earlier `**`s never need to be
    /// revisited (anything they could absorb, the last one can), so there is no exponential
    /// backtracking: `/**/a/**/b/**/c/**/d` against 576 segments costs a few thousand segment
    /// comparisons, not 15 s.
    func match(_ path: ArraySlice<Substring>) -> Bool {
        let t0 = path.startIndex
        return Self.wildcard(
            patternCount: segments.count, textCount: path.count, isStar: { doubleStars[$0] },
            matches: { Self.segmentMatches(segments[$0], path[t0 + $1]) })
    }

    /// The one wildcard matcher (segments with `**`, characters with `*` and `?`, shell argument
    /// globs): walk pattern and text together, remember only the last star and where the text
    /// stood, and on a mismatch let that star swallow one more element. O(pattern × text).
    @inline(__always)
    static func wildcard(patternCount: Int, textCount: Int, isStar: (Int) -> Bool, matches: (Int, Int) -> Bool) -> Bool {
        var p = 0, t = 0
        var star: Int? = nil, mark = 0
        while t < textCount {
            if p < patternCount, isStar(p) {
                star = p
                mark = t
                p += 1
            } else if p < patternCount, matches(p, t) {
                p += 1
                t += 1
            } else if let s = star {
                p = s + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < patternCount, isStar(p) { p += 1 }
        return p == patternCount
    }

    static func segmentMatches(_ pattern: Substring, _ segment: Substring) -> Bool {
        let matched = pattern.utf8.withContiguousStorageIfAvailable { p in
            segment.utf8.withContiguousStorageIfAvailable { t in matchSegment(p[...], t[...]) }
        } ?? nil
        return matched ?? matchSegment(Array(pattern.utf8)[...], Array(segment.utf8)[...])
    }

    /// Limits on a scope pattern, checked wherever a pattern enters a passport (issue and
    /// delegation alike), so that what one refuses the other refuses too.
    public static let maximumSegments = 64
    public static let maximumDoubleStars = 8
    public static let maximumStarsPerSegment = 8

    /// Why a resource-scope pattern is unacceptable, or nil when it is fine: NUL, `.` or `..`
    /// segments (a scope is matched against normalised paths, so such a pattern is either
    /// meaningless or an attempt to widen), backslashes, percent signs, and the complexity limits.
    public static func problem(with pattern: String) -> String? {
        if pattern.isEmpty || pattern.utf8.count > 1024 { return "must be 1-1024 bytes" }
        if pattern.utf8.contains(0) { return "contains NUL" }
        if pattern.contains("\\") { return "contains a backslash" }
        if pattern.contains("%") { return "contains a percent sign (scopes match decoded paths)" }
        let glob = Glob(pattern)
        let pathSegments = pattern.hasPrefix("/") || !pattern.contains("://") ? glob.segments[...] : glob.segments.dropFirst()
        if pathSegments.contains(where: { $0 == "." || $0 == ".." }) { return "has a . or .. segment" }
        if glob.segments.count > maximumSegments { return "has more than \(maximumSegments) segments" }
        if glob.segments.filter({ $0 == "**" }).count > maximumDoubleStars { return "has more than \(maximumDoubleStars) ** segments" }
        for segment in glob.segments where segment != "**" {
            if segment.filter({ $0 == "*" }).count > maximumStarsPerSegment {
                return "has more than \(maximumStarsPerSegment) * in one segment"
            }
        }
        return nil
    }

    static func matchSegment<C: RandomAccessCollection<UInt8>>(_ pattern: C, _ text: C) -> Bool where C.Index == Int {
        let p0 = pattern.startIndex, t0 = text.startIndex
        return wildcard(
            patternCount: pattern.count, textCount: text.count, isStar: { pattern[p0 + $0] == UInt8(ascii: "*") },
            matches: { pattern[p0 + $0] == UInt8(ascii: "?") || pattern[p0 + $0] == text[t0 + $1] })
    }

    /// Whether every path `child` can match is also matched by `self`. Conservative: it may refuse
    /// a narrowing it cannot prove, never accept a widening.
    public func covers(_ child: Glob) -> Bool {
        guard absolute == child.absolute else { return false }
        return Self.covers(segments[...], child.segments[...])
    }

    /// Dynamic programming over (parent position, child position): each pair is decided once,
    /// so the check is O(parent × child) however many `**` either side has.
    static func covers(_ parent: ArraySlice<Substring>, _ child: ArraySlice<Substring>) -> Bool {
        let parent = Array(parent), child = Array(child)
        var memo = [Bool?](repeating: nil, count: (parent.count + 1) * (child.count + 1))
        func covers(_ i: Int, _ j: Int) -> Bool {
            let slot = i * (child.count + 1) + j
            if let known = memo[slot] { return known }
            let result: Bool
            if i == parent.count {
                result = j == child.count
            } else if parent[i] == "**" {
                result = covers(i + 1, j) || (j < child.count && covers(i, j + 1))
            } else if j == child.count || child[j] == "**" {
                result = false
            } else {
                let p = parent[i], c = child[j]
                let childHasWildcard = c.contains("*") || c.contains("?")
                let segmentCovered = childHasWildcard ? (p == "*" || p == c) : segmentMatches(p, c)
                result = segmentCovered && covers(i + 1, j + 1)
            }
            memo[slot] = result
            return result
        }
        return covers(0, 0)
    }
}
