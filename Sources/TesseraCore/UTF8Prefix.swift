extension String {
    /// The longest prefix of at most `limit` UTF-8 bytes that ends on a character boundary: how
    /// values a caller controls are bounded before they go into an audit event or a span.
    public func prefix(utf8Bytes limit: Int) -> String {
        guard utf8.count > limit else { return self }
        var out = ""
        for character in self {
            if out.utf8.count + character.utf8.count > limit { break }
            out.append(character)
        }
        return out
    }
}
