// Figures both the coordinator's planner and the workers use, named once.

/// Constants shared by the planner (coordinator) and the workers' own budget checks.
public enum ClusterConstants {
    /// Fixed memory of a worker or coordinator process counted against its budget: the runtime, OpenBLAS's
    /// buffers, sockets and connection buffers.
    public static let processOverheadBytes = 64 << 20
    /// The largest frame payload a cluster connection accepts (stage activations and job contexts).
    public static let maxClusterPayloadBytes = 1 << 30
}
