// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "tessera",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
        .library(name: "TesseraCore", targets: ["TesseraCore"]),
        .library(name: "TesseraClient", targets: ["TesseraClient"]),
        .library(name: "TesseraBadgeMiddleware", targets: ["TesseraBadgeMiddleware"]),
        // For the Benchmarks/ package.
        .library(name: "TesseraStore", targets: ["TesseraStore"]),
        .library(name: "TesseraServer", targets: ["TesseraServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        // Test only: the Swift MCP SDK drives the stdio gateway as a real Swift MCP host would.
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // OpenTelemetry (traces, logs, metrics over OTLP/HTTP). The gRPC exporter is left out of the build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    ],
    targets: [
        // zlib, for the IETF Token Status List (DEFLATE in the ZLIB format).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // Files served as they are (the OpenAPI document), compiled in with C23 #embed.
        .target(name: "TesseraResources", exclude: ["openapi.json"]),
        // Pure security logic: keys, JWK, thumbprints, DIDs, JWS rules, clock, errors. No I/O.
        .target(
            name: "TesseraCore",
            dependencies: [
                "CZlib",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Secret-holding files and folders (0600 / 0700, atomic writes).
        .target(name: "TesseraFileSystem", swiftSettings: swiftSettings),
        // Storage protocol and the embedded SQLite backend.
        .target(
            name: "TesseraStore",
            dependencies: [
                "TesseraCore",
                "TesseraFileSystem",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP surface: Hummingbird application, middleware, controllers.
        .target(
            name: "TesseraServer",
            dependencies: [
                "TesseraCore",
                "TesseraStore",
                "TesseraFileSystem",
                "TesseraResources",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // The MCP gateway's upstream calls.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // The thread that runs costly constraint checks off the cooperative pool.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            swiftSettings: swiftSettings
        ),
        // SDK used by agents, the keeper and the CLI's client commands.
        .target(
            name: "TesseraClient",
            dependencies: [
                "TesseraCore",
                "TesseraFileSystem",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Hummingbird middleware that admits only requests bearing a valid badge.
        .target(
            name: "TesseraBadgeMiddleware",
            dependencies: ["TesseraCore", "TesseraClient", .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "two-agents-example",
            dependencies: [
                "TesseraCore", "TesseraClient", "TesseraBadgeMiddleware",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "examples/two-agents/Sources",
            swiftSettings: swiftSettings
        ),
        // The MCP gateway (stdio): Tessera's evaluation in front of every tools/call.
        .target(
            name: "TesseraGateway",
            dependencies: [
                "TesseraCore",
                "TesseraClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tessera",
            dependencies: [
                "TesseraGateway",
                "TesseraCore",
                "TesseraStore",
                "TesseraServer",
                "TesseraClient",
                "TesseraFileSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The one copy of the helpers several test targets use: temporary folders, file modes,
        // loopback sockets, polling, the built binary, the test PostgreSQL cluster.
        .target(
            name: "TesseraTestSupport",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/TesseraTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TesseraCoreTests", dependencies: ["TesseraCore"], exclude: ["Resources"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TesseraStoreTests",
            dependencies: [
                "TesseraStore", "TesseraCore", "TesseraFileSystem", "TesseraTestSupport", .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TesseraServerTests",
            dependencies: [
                "TesseraServer", "TesseraStore", "TesseraCore", "TesseraClient", "TesseraBadgeMiddleware", "TesseraFileSystem", "TesseraTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TesseraEndToEndTests",
            dependencies: [
                "TesseraCore", "TesseraClient", "TesseraFileSystem", "TesseraTestSupport",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    // C23, for #embed in TesseraResources (the package's only C source).
    cLanguageStandard: .c2x
)
