// The `worker` command: hosts one pipeline stage of the transformer for a coordinator.
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.isEmpty || arguments.contains("--help") || arguments.contains("-h") {
    print("""
        usage: worker --listen HOST:PORT --token-file FILE [--model-root DIR] [--memory BYTES] [--threads N]

        Hosts a contiguous range of transformer layers for a coordinator.
        (The cluster is not built yet: this command only prints this help.)
        """)
    exit(arguments.isEmpty ? 2 : 0)
}
FileHandle.standardError.write(Data("worker: the cluster worker is not implemented yet\n".utf8))
exit(2)
