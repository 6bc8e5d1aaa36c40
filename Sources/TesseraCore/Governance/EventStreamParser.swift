/// Server-sent events read exactly as a browser or an MCP SDK reads them (WHATWG HTML
/// § 9.2.6): a leading byte-order mark dropped, lines ended by CRLF, LF *or* a bare CR, `data`
/// lines of one event joined with LF, comments skipped, an event dispatched at a blank line.
///
/// The MCP gateway relays no upstream event as bytes: it parses each one like this, judges the
/// JSON-RPC message inside, and writes its own event. A gateway that matched `data:` prefixes
/// line by line instead (as Tessera did before round three) let a BOM, a bare CR or a
/// multi-line `data` carry an unfiltered tool list past it.
public struct EventStreamParser: Sendable {
    public struct Event: Sendable, Equatable {
        public var type: String?
        public var id: String?
        public var retry: String?
        /// The `data` lines joined by LF; nil when the event had no `data` field.
        public var data: String?

        public init(type: String? = nil, id: String? = nil, retry: String? = nil, data: String? = nil) {
            self.type = type
            self.id = id
            self.retry = retry
            self.data = data
        }
    }

    public enum Failure: Error, Equatable, Sendable {
        /// One event (or one line) larger than the limit.
        case tooLarge
    }

    public let maximumEventBytes: Int
    var line: [UInt8] = []
    var lastWasCR = false
    var atStart = true
    var pending = Event()
    var pendingBytes = 0
    var data: [UInt8]?

    public init(maximumEventBytes: Int) {
        self.maximumEventBytes = maximumEventBytes
    }

    /// Feeds bytes; returns the events completed by them.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(Failure) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if atStart {
                // The BOM is three bytes; drop it only as the very first bytes of the stream.
                line.append(byte)
                if line.count < 3, [0xEF, 0xBB, 0xBF].starts(with: line) { continue }
                atStart = false
                let first = line
                line = []
                if first == [0xEF, 0xBB, 0xBF] { continue }
                for b in first { try consume(b, into: &events) }
                continue
            }
            try consume(byte, into: &events)
        }
        return events
    }

    /// The end of the stream: a last line without its terminator is processed; an event not
    /// followed by a blank line is discarded (as the standard says).
    public mutating func finish() throws(Failure) -> [Event] {
        var events: [Event] = []
        if atStart, !line.isEmpty {
            atStart = false
            let first = line
            line = []
            for b in first { try consume(b, into: &events) }
        }
        if !line.isEmpty { try endLine(into: &events) }
        return events
    }

    mutating func consume(_ byte: UInt8, into events: inout [Event]) throws(Failure) {
        switch byte {
        case UInt8(ascii: "\n"):
            if lastWasCR {
                lastWasCR = false
                return
            }
            try endLine(into: &events)
        case UInt8(ascii: "\r"):
            lastWasCR = true
            try endLine(into: &events)
        default:
            lastWasCR = false
            line.append(byte)
            guard line.count + pendingBytes <= maximumEventBytes else { throw .tooLarge }
        }
    }

    mutating func endLine(into events: inout [Event]) throws(Failure) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            // Dispatch.
            if let bytes = data {
                var event = pending
                var text = bytes
                if text.last == UInt8(ascii: "\n") { text.removeLast() }
                event.data = String(decoding: text, as: UTF8.self)
                events.append(event)
            } else if pending.id != nil || pending.retry != nil || pending.type != nil {
                // No data: nothing is dispatched, but the id and retry still apply; relay them.
                events.append(pending)
            }
            pending = Event()
            data = nil
            pendingBytes = 0
            return
        }
        pendingBytes += line.count
        guard pendingBytes <= maximumEventBytes else { throw .tooLarge }
        if line.first == UInt8(ascii: ":") { return }
        let field: [UInt8]
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = Array(line[..<colon])
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            field = line
            value = []
        }
        switch String(decoding: field, as: UTF8.self) {
        case "data":
            if data == nil { data = [] }
            data!.append(contentsOf: value)
            data!.append(UInt8(ascii: "\n"))
        case "event": pending.type = String(decoding: value, as: UTF8.self)
        case "id":
            if !value.contains(0) { pending.id = String(decoding: value, as: UTF8.self) }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
                pending.retry = String(decoding: value, as: UTF8.self)
            }
        default: break
        }
    }

    /// One event as Tessera writes it: `event`, `id`, `retry` (each only when present, each a
    /// single line) and `data` holding `json`, which has no line break (``MCPGovernance/wire(_:)``).
    public static func render(_ event: Event, data json: [UInt8]?) -> [UInt8] {
        var out: [UInt8] = []
        func single(_ text: String) -> String { String(text.unicodeScalars.filter { $0 != "\n" && $0 != "\r" }) }
        if let type = event.type { out += Array("event: \(single(type))\n".utf8) }
        if let id = event.id { out += Array("id: \(single(id))\n".utf8) }
        if let retry = event.retry { out += Array("retry: \(single(retry))\n".utf8) }
        if let json {
            out += Array("data: ".utf8)
            out += json
            out.append(UInt8(ascii: "\n"))
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }
}
