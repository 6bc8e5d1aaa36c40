import Metrics
import Prometheus
import Synchronization

/// The process-wide Prometheus registry. swift-metrics allows one bootstrap per process, so the
/// first application built installs it and every later one (tests build many) reuses it.
public enum TesseraMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Latency buckets in seconds, from 100 µs (an in-process decision) to 5 s.
        let buckets: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2), .seconds(5),
        ]
        factory.defaultDurationHistogramBuckets = buckets
        if let extra = extraFactory.withLock({ $0 }) {
            MetricsSystem.bootstrap(MultiplexMetricsHandler(factories: [factory, extra]))
        } else {
            MetricsSystem.bootstrap(factory)
        }
        return registry
    }()

    private static let extraFactory = Mutex<(any MetricsFactory)?>(nil)

    /// Also sends every metric to `factory` (OTLP, when `OTEL_METRICS_EXPORTER=otlp`). Only
    /// before the first metric exists: `tessera serve` calls it once, at start.
    public static func alsoExport(to factory: (any MetricsFactory)?) {
        if let factory { extraFactory.withLock { $0 = factory } }
        _ = registry
    }

    /// The Prometheus text exposition of every metric.
    public static func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return buffer
    }
}
