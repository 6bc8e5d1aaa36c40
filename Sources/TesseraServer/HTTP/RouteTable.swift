import Hummingbird
import Synchronization

/// The declared routes, for answering 405 (with `Allow`) instead of 404 when a path exists
/// under other methods (RFC 9110 §15.5.6). Filled once the router is built, read per miss.
final class RouteTable: Sendable {
    private let routes = Mutex<[(segments: [Substring], method: HTTPRequest.Method)]>([])

    func install(_ declarations: [RouteDeclaration]) {
        routes.withLock { $0 = declarations.map { ($0.path.split(separator: "/"), $0.method) } }
    }

    /// The methods declared for a path (a `:name` segment matches any one segment).
    func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        return routes.withLock { routes in
            var out: [HTTPRequest.Method] = []
            for route in routes where route.segments.count == segments.count {
                if zip(route.segments, segments).allSatisfy({ $0.hasPrefix(":") || $0 == $1 }), !out.contains(route.method) {
                    out.append(route.method)
                }
            }
            return out
        }
    }
}
