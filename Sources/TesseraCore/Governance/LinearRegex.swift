/// A regular-expression subset that always matches in time linear in the input (a Pike VM over a
/// Thompson NFA): no backtracking, so no pattern can be made to "blow up" on hostile input.
///
/// Supported: literals, `.`, escapes (`\d \w \s \D \W \S` and escaped punctuation), classes
/// `[a-z0-9_]` / `[^…]` (with the same escapes), groups `( )` and `(?: )`, alternation `|`,
/// quantifiers `* + ?` and `{n}` `{n,}` `{n,m}` (m ≤ 100), `^` at the start and `$` at the end.
/// Matching is always a *full* match over Unicode scalars. Refused at compile time: back-references,
/// look-around, lazy or possessive quantifiers, anchors elsewhere, programs over 5,000 states.
public struct LinearRegex: Sendable, Equatable {
    public let source: String
    let program: [Instruction]
    /// States in the compiled program: the per-character cost of a match.
    public var programSize: Int { program.count }

    public static func == (a: LinearRegex, b: LinearRegex) -> Bool { a.source == b.source }

    public static let maximumSourceLength = 512
    public static let maximumProgramSize = 5_000
    public static let maximumRepeat = 100

    enum Instruction: Sendable {
        case char(Unicode.Scalar)
        case any
        case set(CharacterSet, negated: Bool)
        case split(Int, Int)
        case jump(Int)
        case match
    }

    /// A class: ranges of scalars, plus the named classes.
    struct CharacterSet: Sendable {
        var ranges: [ClosedRange<UInt32>] = []
        func contains(_ s: Unicode.Scalar) -> Bool { ranges.contains { $0.contains(s.value) } }
    }

    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    indirect enum Node {
        case empty
        case char(Unicode.Scalar)
        case any
        case set(CharacterSet, Bool)
        case concat([Node])
        case alternate([Node])
        case repeatNode(Node, min: Int, max: Int?)
    }

    public init(_ source: String) throws(Failure) {
        guard source.unicodeScalars.count <= Self.maximumSourceLength else {
            throw Failure(reason: "longer than \(Self.maximumSourceLength) characters")
        }
        self.source = source
        var parser = Parser(Array(source.unicodeScalars))
        let node = try parser.parseWhole()
        var program: [Instruction] = []
        try Self.emit(node, into: &program)
        program.append(.match)
        guard program.count <= Self.maximumProgramSize else {
            throw Failure(reason: "too complex (more than \(Self.maximumProgramSize) states once repeats are expanded)")
        }
        self.program = program
    }

    static func emit(_ node: Node, into p: inout [Instruction]) throws(Failure) {
        guard p.count <= maximumProgramSize else { throw Failure(reason: "too complex (more than \(maximumProgramSize) states)") }
        switch node {
        case .empty: break
        case .char(let c): p.append(.char(c))
        case .any: p.append(.any)
        case .set(let set, let negated): p.append(.set(set, negated: negated))
        case .concat(let nodes): for n in nodes { try emit(n, into: &p) }
        case .alternate(let nodes):
            // split L1, next; L1: a; jmp end; next: split …
            var jumps: [Int] = []
            for (i, n) in nodes.enumerated() {
                if i < nodes.count - 1 {
                    let split = p.count
                    p.append(.split(split + 1, -1))
                    try emit(n, into: &p)
                    jumps.append(p.count)
                    p.append(.jump(-1))
                    p[split] = .split(split + 1, p.count)
                } else {
                    try emit(n, into: &p)
                }
            }
            for j in jumps { p[j] = .jump(p.count) }
        case .repeatNode(let n, let min, let max):
            for _ in 0..<min { try emit(n, into: &p) }
            if let max {
                // (n?){max-min}, nested so that the whole tail is optional.
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(p.count)
                    p.append(.split(p.count + 1, -1))
                    try emit(n, into: &p)
                }
                for s in splits { p[s] = .split(s + 1, p.count) }
            } else {
                let loop = p.count
                p.append(.split(loop + 1, -1))
                try emit(n, into: &p)
                p.append(.jump(loop))
                p[loop] = .split(loop + 1, p.count)
            }
        }
    }

    /// Whether the whole of `text` matches: O(text × program).
    public func matches(_ text: String) -> Bool {
        let input = Array(text.unicodeScalars)
        var current: [Int] = []
        var next: [Int] = []
        var onList = [Int](repeating: -1, count: program.count)
        func add(_ pc: Int, _ list: inout [Int], _ generation: Int) {
            var stack = [pc]
            while let pc = stack.popLast() {
                if onList[pc] == generation { continue }
                onList[pc] = generation
                switch program[pc] {
                case .jump(let to): stack.append(to)
                case .split(let a, let b):
                    stack.append(b)
                    stack.append(a)
                default: list.append(pc)
                }
            }
        }
        add(0, &current, 0)
        for (position, scalar) in input.enumerated() {
            next.removeAll(keepingCapacity: true)
            for pc in current {
                let advance: Bool
                switch program[pc] {
                case .char(let c): advance = c == scalar
                case .any: advance = scalar != "\n"
                case .set(let set, let negated): advance = set.contains(scalar) != negated
                default: advance = false
                }
                if advance { add(pc + 1, &next, position + 1) }
            }
            swap(&current, &next)
            if current.isEmpty { return false }
        }
        return current.contains { if case .match = program[$0] { true } else { false } }
    }

    struct Parser {
        let s: [Unicode.Scalar]
        var i = 0
        var depth = 0
        init(_ s: [Unicode.Scalar]) { self.s = s }

        var peek: Unicode.Scalar? { i < s.count ? s[i] : nil }

        mutating func parseWhole() throws(Failure) -> Node {
            if peek == "^" { i += 1 }
            let node = try alternation()
            if peek == "$" { i += 1 }
            guard i == s.count else {
                throw Failure(reason: peek == ")" ? "unbalanced ')'" : "unsupported syntax at position \(i) (anchors only at the ends)")
            }
            return node
        }

        mutating func alternation() throws(Failure) -> Node {
            var branches = [try concatenation()]
            while peek == "|" {
                i += 1
                branches.append(try concatenation())
            }
            return branches.count == 1 ? branches[0] : .alternate(branches)
        }

        mutating func concatenation() throws(Failure) -> Node {
            var items: [Node] = []
            while let c = peek, c != "|", c != ")" {
                if c == "$", i == s.count - 1 { break }
                var atom = try self.atom()
                atom = try quantified(atom)
                items.append(atom)
            }
            return items.isEmpty ? .empty : (items.count == 1 ? items[0] : .concat(items))
        }

        mutating func quantified(_ atom: Node) throws(Failure) -> Node {
            guard let q = peek else { return atom }
            var node: Node
            switch q {
            case "*": i += 1; node = .repeatNode(atom, min: 0, max: nil)
            case "+": i += 1; node = .repeatNode(atom, min: 1, max: nil)
            case "?": i += 1; node = .repeatNode(atom, min: 0, max: 1)
            case "{":
                let (min, max) = try braces()
                node = .repeatNode(atom, min: min, max: max)
            default: return atom
            }
            if let after = peek, ["*", "+", "?", "{"].contains(after) {
                throw Failure(reason: "lazy, possessive or stacked quantifiers are not supported (position \(i))")
            }
            return node
        }

        mutating func number() -> Int? {
            var value = 0
            var digits = 0
            while let c = peek, ("0"..."9").contains(c), digits < 4 {
                value = value * 10 + Int(c.value - 48)
                digits += 1
                i += 1
            }
            return digits == 0 ? nil : value
        }

        mutating func braces() throws(Failure) -> (Int, Int?) {
            i += 1
            guard let min = number() else { throw Failure(reason: "invalid {n,m} at position \(i)") }
            var max: Int? = min
            if peek == "," {
                i += 1
                max = number()
            }
            guard peek == "}" else { throw Failure(reason: "invalid {n,m} at position \(i)") }
            i += 1
            guard min <= LinearRegex.maximumRepeat, (max ?? min) <= LinearRegex.maximumRepeat, (max ?? min) >= min else {
                throw Failure(reason: "repeat counts must be at most \(LinearRegex.maximumRepeat) and min ≤ max")
            }
            return (min, max)
        }

        mutating func atom() throws(Failure) -> Node {
            guard let c = peek else { throw Failure(reason: "unexpected end") }
            switch c {
            case "(":
                i += 1
                if peek == "?" {
                    guard i + 1 < s.count, s[i + 1] == ":" else {
                        throw Failure(reason: "look-around and named groups are not supported (position \(i))")
                    }
                    i += 2
                }
                depth += 1
                guard depth <= 16 else { throw Failure(reason: "groups nested deeper than 16") }
                let inner = try alternation()
                guard peek == ")" else { throw Failure(reason: "unbalanced '('") }
                i += 1
                depth -= 1
                return inner
            case ".": i += 1; return .any
            case "[": return try characterClass()
            case "\\": return try escape(inClass: false)
            case "*", "+", "?", "{": throw Failure(reason: "nothing to repeat at position \(i)")
            case "^", "$": throw Failure(reason: "anchors are only supported at the ends (position \(i))")
            default:
                i += 1
                return .char(c)
            }
        }

        static let digit = CharacterSet(ranges: [48...57])
        static let word = CharacterSet(ranges: [48...57, 65...90, 95...95, 97...122])
        static let space = CharacterSet(ranges: [9...13, 32...32])

        mutating func escape(inClass: Bool) throws(Failure) -> Node {
            i += 1
            guard let e = peek else { throw Failure(reason: "trailing backslash") }
            i += 1
            switch e {
            case "d": return .set(Self.digit, false)
            case "D": return .set(Self.digit, true)
            case "w": return .set(Self.word, false)
            case "W": return .set(Self.word, true)
            case "s": return .set(Self.space, false)
            case "S": return .set(Self.space, true)
            case "n": return .char("\n")
            case "t": return .char("\t")
            case "r": return .char("\r")
            default:
                if e.properties.isAlphabetic || ("0"..."9").contains(e) {
                    throw Failure(reason: "unsupported escape \\\(e) (back-references and other escapes are refused)")
                }
                return .char(e)
            }
        }

        mutating func characterClass() throws(Failure) -> Node {
            i += 1
            var negated = false
            if peek == "^" {
                negated = true
                i += 1
            }
            var set = CharacterSet()
            var first = true
            while let c = peek, c != "]" || first {
                first = false
                var low: UInt32
                if c == "\\" {
                    let escaped = try escape(inClass: true)
                    switch escaped {
                    case .char(let scalar): low = scalar.value
                    case .set(let named, false):
                        set.ranges += named.ranges
                        continue
                    default: throw Failure(reason: "negated classes cannot be nested in [ ]")
                    }
                } else {
                    i += 1
                    low = c.value
                }
                if peek == "-", i + 1 < s.count, s[i + 1] != "]" {
                    i += 1
                    guard let high = peek else { break }
                    i += 1
                    guard high.value >= low else { throw Failure(reason: "invalid range in [ ]") }
                    set.ranges.append(low...high.value)
                } else {
                    set.ranges.append(low...low)
                }
                guard set.ranges.count <= 256 else { throw Failure(reason: "character class too large") }
            }
            guard peek == "]" else { throw Failure(reason: "unterminated [") }
            i += 1
            return .set(set, negated)
        }
    }
}
