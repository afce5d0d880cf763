// bench-model's command line.
import Model
import Cluster
import Foundation

/// The command line.
struct BenchOptions {
    var tokens: [Int] = [4096, 16384]
    var memoryTokens: [Int] = [1024, 4096, 16384]
    var threads = ProcessInfo.processInfo.activeProcessorCount
    var textLength = 512
    var model: String?
    var pytorchScript: String?
    var child: Int?
    var profile: [Int]?
    var kernels = false
    var rounds = 2
    var vae: [VAEBenchSize]?
    var vaeFrames = 5
    var vaeProfile = false
    var vaeEncode = false

    static let usage = """
        usage: bench-model [--tokens 4096,16384] [--memory-tokens 1024,4096,16384] [--threads N] [--text-length 512]
                           [--model DIR] [--pytorch-script scripts/bench_model_torch.py] [--rounds 2]
               bench-model --profile 256,720,4096 [--model DIR] [--threads N]   (time per operation of the forward)
               bench-model --kernels [--tokens 4096,16384] [--threads N]  (Linear and attention next to cblas_sgemm)
               bench-model --vae 128x128,480x272 [--vae-frames 5] [--vae-profile] [--vae-encode] [--threads N]
                           [--rounds 2]  (the Wan2.1 VAE decode / encode next to cblas_sgemm; scripts/bench-vae.sh)

        Times the Wan transformer forward pass (batch 1, the `bench` preset unless --model) at each token count in
        --tokens, each in its own child process, against the machine's sgemm ceiling: cblas_sgemm on a square
        2048^3 product and on the forward's own matrix shapes, with OpenBLAS on 1 and on N threads, measured in the
        same minutes. Reports the process CPU time of each forward, the peak resident memory of each count in
        --memory-tokens, and with --pytorch-script diffusers' forward time. With --rounds N, ours and diffusers
        alternate N times per token count and the best time of each is kept, so both see the same minutes.
        Token counts: 256...65,536; multiples of 1,024 are frames of 32 x 32 patches (64 x 64 latent pixels), other
        counts one frame of h x w patches, h the largest divisor of the count not above its square root
        (720 = 24 x 30, 256 = 16 x 16).
        """

    /// The options `usage` describes.
    static let specs: [OptionSpec] = [
        .value("--tokens", "LIST", "token counts"), .value("--memory-tokens", "LIST", "token counts"),
        .value("--threads", "N", "threads"), .value("--text-length", "N", "text tokens"), .value("--model", "DIR", "model"),
        .value("--pytorch-script", "FILE", "diffusers script"), .value("--child", "TOKENS", "internal: one forward"),
        .value("--profile", "LIST", "token counts"), .flag("--kernels", "kernel table"), .value("--rounds", "N", "rounds"),
        .value("--vae", "SIZES", "VAE sizes"), .value("--vae-frames", "N", "video frames"),
        .flag("--vae-profile", "VAE profile"), .flag("--vae-encode", "VAE encode"),
    ]

    /// Parses the arguments strictly (the shared parser); `--help` prints `usage` and exits.
    init(_ arguments: [String]) throws {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(BenchOptions.usage)
            exit(0)
        }
        let options = try CommandLineOptions(arguments, specs: Self.specs)
        func count(_ text: Substring) throws -> Int {
            guard let n = Int(text), (256...65536).contains(n), patchGrid(tokens: n).height <= 1024 else {
                throw BenchError("token counts are 256...65536 with a grid of at most 1,024 patches a side, got '\(text)'")
            }
            return n
        }
        func list(_ name: String) throws -> [Int]? { try options.string(name).map { try $0.split(separator: ",").map(count) } }
        tokens = try list("--tokens") ?? tokens
        memoryTokens = try list("--memory-tokens") ?? memoryTokens
        threads = try options.int("--threads", in: 1...1024) ?? threads
        textLength = try options.int("--text-length", in: 1...4096) ?? textLength
        model = options.string("--model")
        pytorchScript = options.string("--pytorch-script")
        child = try options.string("--child").map { try count(Substring($0)) }
        profile = try list("--profile")
        kernels = options.flag("--kernels")
        rounds = try options.int("--rounds", in: 1...20) ?? rounds
        vae = try options.string("--vae").map { try $0.split(separator: ",").map(VAEBenchSize.init) }
        vaeFrames = try options.int("--vae-frames", in: 1...257) ?? vaeFrames
        guard vaeFrames % 4 == 1 else { throw BenchError("--vae-frames is 1 + 4k, got \(vaeFrames)") }
        vaeProfile = options.flag("--vae-profile")
        vaeEncode = options.flag("--vae-encode")
    }
}

/// A benchmark failure with a message for the user.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The patch grid used for `tokens` tokens (see the usage text).
func patchGrid(tokens: Int) -> (frames: Int, height: Int, width: Int) {
    if tokens % 1024 == 0 { return (tokens / 1024, 32, 32) }
    var height = Int(Double(tokens).squareRoot())
    while tokens % height != 0 { height -= 1 }
    return (1, height, tokens / height)
}

/// The latent shape `[1, C, F, H, W]` for `tokens` tokens.
func latentShape(tokens: Int, config: WanTransformerConfig) -> [Int] {
    let grid = patchGrid(tokens: tokens)
    return [
        1, config.inChannels, grid.frames * config.patchFrames, grid.height * config.patchHeight,
        grid.width * config.patchWidth,
    ]
}
