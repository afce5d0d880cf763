// The Wire module: the cluster's binary protocol (see docs/PROTOCOL.md).

/// The version of the wire module, reported by `coordinator --version`.
public let wireModuleVersion = "0.1.0"
