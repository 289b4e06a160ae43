// swift-tools-version:6.0
// A client generated from the bridge's OpenAPI spec by swift-openapi-generator's build plugin,
// and an executable that runs the flow of scripts/sdk-generate/FLOW.md through it. Separate from
// the server's package; ../run.sh copies the spec into Sources/SDKFlow/openapi.yaml and builds it.
// It lives in flow/ because a root package's identity is its folder's name: in the folder
// swift-openapi-generator/ it would take the generator's identity, and SwiftPM would never fetch it.
import PackageDescription

let package = Package(
    name: "SDKFlow",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-openapi-generator", exact: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", exact: "1.13.4"),
        .package(url: "https://github.com/swift-server/swift-openapi-async-http-client", exact: "1.5.0"),
        // Named for the middleware's HTTPField (already in the graph through the runtime).
        .package(url: "https://github.com/apple/swift-http-types", exact: "1.8.0"),
    ],
    targets: [
        .executableTarget(
            name: "SDKFlow",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        )
    ]
)
