// swift-tools-version:6.0
// The package: a Wan2.1 video diffusion engine that runs on one CPU machine or a cluster of them.
import PackageDescription

let package = Package(
    name: "Sora",
    products: [
        .executable(name: "coordinator", targets: ["Coordinator"]),
        .executable(name: "worker", targets: ["Worker"]),
        .executable(name: "bench-model", targets: ["ModelBench"]),
        .executable(name: "bench-wire", targets: ["WireBench"]),
        .executable(name: "faultproxy", targets: ["FaultProxy"]),
    ],
    targets: [
        // OpenBLAS's CBLAS interface, found through pkg-config.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Tensors, kernels, checkpoints, the Wan transformer, VAE, text encoder, schedulers, generation.
        .target(name: "Model", dependencies: ["COpenBLAS"]),
        // The cluster protocol: frames, messages, authentication, sockets.
        // `Extern` and `-mcrc32` let CRC32C.swift reach the SSE4.2 crc32 instruction (see that file).
        .target(
            name: "Wire",
            swiftSettings: [.enableExperimentalFeature("Extern"), .unsafeFlags(["-Xcc", "-mcrc32"])]
        ),
        // A process that hosts one pipeline stage.
        .executableTarget(name: "Worker", dependencies: ["Model", "Wire"]),
        // The `coordinator` command.
        .executableTarget(name: "Coordinator", dependencies: ["Model", "Wire"]),
        // `bench-model`: the transformer forward pass against cblas_sgemm and PyTorch (scripts/bench-model.sh).
        .executableTarget(name: "ModelBench", dependencies: ["Model", "COpenBLAS"]),
        // Wire throughput against a raw socket (scripts/bench-wire.sh).
        .executableTarget(name: "WireBench", dependencies: ["Wire"]),
        // `faultproxy`: a TCP proxy that delays, throttles, cuts or corrupts traffic (fault-injection tests).
        .executableTarget(name: "FaultProxy"),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "CoordinatorTests", dependencies: ["Coordinator", "Model", "Wire"]),
        // Real coordinator and worker processes on loopback (runs the built binaries).
        .testTarget(name: "ClusterTests", dependencies: ["Coordinator", "Model", "Wire"]),
    ],
    swiftLanguageModes: [.v6]
)
