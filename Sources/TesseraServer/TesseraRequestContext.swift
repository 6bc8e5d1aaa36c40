import Hummingbird
import Logging

/// The request context of every Tessera route. It caps bodies at 1 MiB (Hummingbird's default
/// is 2 MiB) so the limit holds on every route, not only on those that decode JSON.
public struct TesseraRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { JSONLimits.maxBodyBytes }
}
