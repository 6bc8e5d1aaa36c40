/// The AuthZEN information model's three entities (OpenID AuthZEN Authorization API 1.0,
/// "Information Model"), with the spec's member names. `properties` are kept as parsed (exact
/// numbers, see ``JSONNumber``) because `resource.properties.arguments` is what Tessera evaluates.
///
/// The server builds them from ``StrictJSON``'s values (``parse(_:at:)``) rather than through
/// `JSONDecoder`: a number with more digits than a `Decimal` holds would otherwise reach the
/// constraint checks differently from `/evaluate`, which reads the same arguments exactly.
public struct AuthZENSubject: Codable, Sendable, Equatable {
    public var type: String
    public var id: String
    public var properties: [String: JSONValue]?

    public init(type: String, id: String, properties: [String: JSONValue]? = nil) {
        self.type = type
        self.id = id
        self.properties = properties
    }

    /// A Subject: `type` and `id` REQUIRED strings, `properties` an OPTIONAL object.
    public static func parse(_ value: JSONValue?, at path: String) throws(AuthZENRequestError) -> AuthZENSubject? {
        guard let members = try AuthZENField.object(value, path) else { return nil }
        return AuthZENSubject(
            type: try AuthZENField.string(members["type"], path + ".type"), id: try AuthZENField.string(members["id"], path + ".id"),
            properties: try AuthZENField.object(members["properties"], path + ".properties"))
    }
}

public struct AuthZENAction: Codable, Sendable, Equatable {
    public var name: String
    public var properties: [String: JSONValue]?

    public init(name: String, properties: [String: JSONValue]? = nil) {
        self.name = name
        self.properties = properties
    }

    /// An Action: `name` a REQUIRED string, `properties` an OPTIONAL object.
    public static func parse(_ value: JSONValue?, at path: String) throws(AuthZENRequestError) -> AuthZENAction? {
        guard let members = try AuthZENField.object(value, path) else { return nil }
        return AuthZENAction(
            name: try AuthZENField.string(members["name"], path + ".name"),
            properties: try AuthZENField.object(members["properties"], path + ".properties"))
    }
}

public struct AuthZENResource: Codable, Sendable, Equatable {
    public var type: String
    public var id: String
    public var properties: [String: JSONValue]?

    public init(type: String, id: String, properties: [String: JSONValue]? = nil) {
        self.type = type
        self.id = id
        self.properties = properties
    }

    /// A Resource: shaped like a Subject.
    public static func parse(_ value: JSONValue?, at path: String) throws(AuthZENRequestError) -> AuthZENResource? {
        guard let members = try AuthZENField.object(value, path) else { return nil }
        return AuthZENResource(
            type: try AuthZENField.string(members["type"], path + ".type"), id: try AuthZENField.string(members["id"], path + ".id"),
            properties: try AuthZENField.object(members["properties"], path + ".properties"))
    }
}
