// swift-tools-version:6.0
// Fuzz targets, kept out of the root package so that `swift build` there never
// needs the fuzzing runtime. Build and run with `make fuzz` from the repository root.
import PackageDescription

let package = Package(
    name: "FuzzTesting",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "portcullis", path: ".."),
    ],
    targets: [
        .executableTarget(name: "FuzzTokenVerifier", dependencies: [
            "CLibFuzzer",
            .product(name: "PortcullisCore", package: "portcullis"),
        ]),
        // The request-head parser, the response-head parser and the chunked body scanner.
        .executableTarget(name: "FuzzHTTP1", dependencies: [
            "CLibFuzzer",
            .product(name: "PortcullisProxy", package: "portcullis"),
        ]),
        // Declares LLVMFuzzerRunDriver; see main.swift for why it is needed.
        .target(name: "CLibFuzzer"),
    ]
)
