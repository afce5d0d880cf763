// swift-tools-version:6.0
// The package: a Wan2.1 video diffusion engine that runs on one CPU machine or a cluster of them.
import PackageDescription

// Architecture-specific settings; other architectures build the portable code paths.
#if arch(x86_64)
/// `Extern` lets CRC32C.swift name the SSE4.2 crc32 instruction; `-mcrc32` lets the compiler emit it (the
/// instruction runs only after a CPU check; elsewhere the software CRC runs).
let wireSwiftSettings: [SwiftSetting] = [.enableExperimentalFeature("Extern"), .unsafeFlags(["-Xcc", "-mcrc32"])]
/// AVX2 for the SIMD8 kernels: the same CPU level the pinned OpenBLAS Haswell kernels need. Swift does not
/// fuse a * b + c into FMA on its own, so results are the same bits as a portable build.
let modelSwiftSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
/// `-parse-stdlib` gives WireVectorCRC the `Builtin` module (LLVM's carry-less multiply and crc32 intrinsics);
/// the `-m` flags let the compiler emit those instructions anywhere in that module, which is therefore called
/// only after a CPU check (Sources/WireVectorCRC/VectorCRC32C.swift).
let vectorCRCSwiftSettings: [SwiftSetting] = [.unsafeFlags([
    "-parse-stdlib", "-Xcc", "-mavx512f", "-Xcc", "-mvpclmulqdq", "-Xcc", "-mpclmul", "-Xcc", "-mcrc32",
])]
/// `-mavx2` lets the compiler emit 256-bit AVX2 instructions anywhere in WireVectorChaCha (its SIMD8 ChaCha20 and
/// SIMD4<UInt64> Poly1305 kernels), which Wire's ChaCha20 and Poly1305 therefore call only after a CPU check
/// (Sources/WireVectorChaCha).
let vectorChaChaSwiftSettings: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-mavx2"])]
/// `-parse-stdlib` gives WireVectorSHA LLVM's `sha256rnds2`, `sha256msg1` and `sha256msg2` intrinsics; `-msha` and
/// `-msse4.1` let the compiler emit them (and SSE4.1) anywhere in that module, which Wire's SHA256 therefore
/// calls only after a CPU check (Sources/WireVectorSHA/VectorSHA256.swift).
let vectorSHASwiftSettings: [SwiftSetting] = [.unsafeFlags(["-parse-stdlib", "-Xcc", "-msha", "-Xcc", "-msse4.1"])]
#else
let wireSwiftSettings: [SwiftSetting] = [.enableExperimentalFeature("Extern")]
let modelSwiftSettings: [SwiftSetting] = []
let vectorCRCSwiftSettings: [SwiftSetting] = [.unsafeFlags(["-parse-stdlib"])]
let vectorChaChaSwiftSettings: [SwiftSetting] = []
let vectorSHASwiftSettings: [SwiftSetting] = [.unsafeFlags(["-parse-stdlib"])]
#endif

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
        // On x86-64, Model is compiled for Haswell (AVX2 + FMA), which OpenBLAS's pinned kernels already require
        // (Sources/Model/Runtime/BLASRuntime.swift); Swift never contracts a * b + c into an FMA on its own, so
        // results stay the same operation by operation. (`x86-64-v3` is not a name Swift's clang importer accepts.)
        .target(name: "Model", dependencies: ["COpenBLAS"], swiftSettings: modelSwiftSettings),
        // The cluster protocol: frames, messages, authentication, sockets.
        // `Extern` and `-mcrc32` let CRC32C.swift reach the SSE4.2 crc32 instruction (see that file).
        .target(
            name: "Wire",
            dependencies: ["WireVectorCRC", "WireVectorChaCha", "WireVectorSHA"],
            swiftSettings: wireSwiftSettings
        ),
        // Wire's CRC-32C kernel for AVX-512 processors with VPCLMULQDQ: Swift with LLVM intrinsics, in a module
        // of its own because it is compiled for those instructions (see `vectorCRCSwiftSettings`).
        .target(name: "WireVectorCRC", swiftSettings: vectorCRCSwiftSettings),
        // Wire's ChaCha20 (eight blocks per step) and Poly1305 (four blocks per step) kernels for AVX2 processors,
        // in a module of their own because it is compiled for AVX2 (see `vectorChaChaSwiftSettings`).
        .target(name: "WireVectorChaCha", swiftSettings: vectorChaChaSwiftSettings),
        // Wire's SHA-256 block function for processors with the SHA extensions, in a module of its own because it
        // is compiled for them (see `vectorSHASwiftSettings`).
        .target(name: "WireVectorSHA", swiftSettings: vectorSHASwiftSettings),
        // Where Model and Wire meet, shared by every executable: the stage-tensor contract, typed stage messages and
        // worker statistics, the command-line parser, logging, threads, shared constants.
        .target(name: "Cluster", dependencies: ["Model", "Wire"]),
        // A process that hosts one pipeline stage.
        .executableTarget(name: "Worker", dependencies: ["Model", "Wire", "Cluster"]),
        // The `coordinator` command.
        .executableTarget(name: "Coordinator", dependencies: ["Model", "Wire", "Cluster"]),
        // `bench-model`: the transformer forward pass against cblas_sgemm and PyTorch (scripts/bench-model.sh).
        .executableTarget(name: "ModelBench", dependencies: ["Model", "COpenBLAS", "Cluster"]),
        // Wire throughput against a raw socket (scripts/bench-wire.sh).
        .executableTarget(name: "WireBench", dependencies: ["Wire", "Cluster"]),
        // `faultproxy`: a TCP proxy that delays, throttles, cuts or corrupts traffic (fault-injection tests).
        .executableTarget(name: "FaultProxy", dependencies: ["Cluster"]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "WireVectorCRC"]),
        .testTarget(name: "ClusterLibraryTests", dependencies: ["Cluster", "Model", "Wire"]),
        .testTarget(name: "CoordinatorTests", dependencies: ["Coordinator", "Cluster", "Model", "Wire"]),
        // Real coordinator and worker processes on loopback (runs the built binaries).
        .testTarget(name: "ClusterTests", dependencies: ["Coordinator", "Cluster", "Model", "Wire"]),
    ],
    swiftLanguageModes: [.v6]
)
