// The Model module: tensors and kernels on OpenBLAS, checkpoints, and the Wan2.1 components.

/// The version of the model engine, reported by `coordinator --version`.
public let modelEngineVersion = "0.1.0"
