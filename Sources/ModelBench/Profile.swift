// bench-model --profile: times the operations of one Wan block separately, to show which one limits the forward.
import Foundation
import Model

/// Times each operation of block 0 of the model at `tokens` tokens and prints one line per operation.
func profileBlock(tokens: Int, options: BenchOptions) throws {
    Compute.setThreadCount(options.threads)
    let directory = WanTransformer.transformerDirectory(options.model!)
    let config = try WanTransformerConfig.load(path: directory + "/config.json")
    let store = try WeightStore(directory: directory)
    let dim = config.innerDim
    func linear(_ name: String, _ inFeatures: Int, _ outFeatures: Int) throws -> Linear {
        try Linear(store: store, prefix: "blocks.0." + name, inFeatures: inFeatures, outFeatures: outFeatures)
    }
    let toQ = try linear("attn1.to_q", dim, dim)
    let up = try linear("ffn.net.0.proj", dim, config.ffnDim)
    let down = try linear("ffn.net.2", config.ffnDim, dim)
    let x = Tensor.randomNormal(shape: [1, tokens, dim], seed: 1, stream: 1)
    let text = Tensor.randomNormal(shape: [1, options.textLength, dim], seed: 1, stream: 2)
    let inner = Tensor.randomNormal(shape: [1, tokens, config.ffnDim], seed: 1, stream: 3)
    let rope = WanRotaryPosEmbed(headDim: config.attentionHeadDim, maxSeqLen: config.ropeMaxSeqLen)
    let tables = try rope.tables(frames: tokens / 1024, height: 32, width: 32)
    let heads = config.numAttentionHeads
    let headDim = config.attentionHeadDim
    let n = Double(tokens)
    let d = Double(dim)
    let f = Double(config.ffnDim)
    let l = Double(options.textLength)
    // (label, FLOPs or 0, count per block, body)
    let items: [(String, Double, Int, () -> Void)] = [
        ("layerNorm [N,D]", 0, 3, { _ = Ops.layerNorm(x, weight: nil, bias: nil, eps: 1e-6) }),
        ("linear D->D (q,k,v,o self; q,o cross)", 2 * n * d * d, 6, { _ = toQ(x) }),
        ("rmsNorm [N,D]", 0, 3, { _ = Ops.rmsNorm(x, weight: nil, eps: 1e-6) }),
        ("rope apply [N,D]", 0, 2, { _ = WanRotaryPosEmbed.apply(x, tables: tables) }),
        ("self-attention", 4 * n * n * d, 1, { _ = Ops.attention(query: x, key: x, value: x, heads: heads) }),
        ("cross-attention", 4 * n * l * d, 1, { _ = Ops.attention(query: x, key: text, value: text, heads: heads) }),
        ("ffn up D->F", 2 * n * d * f, 1, { _ = up(x) }),
        ("geluTanh [N,F]", 0, 1, { _ = Ops.geluTanh(inner) }),
        ("ffn down F->D", 2 * n * d * f, 1, { _ = down(inner) }),
        ("elementwise add [N,D] (modulation-sized)", 0, 5, { _ = Ops.add(x, x) }),
    ]
    _ = headDim
    print("# one block at \(tokens) tokens, \(options.threads) threads")
    print("| operation | ms each | per block | ms per block | GFLOP/s |")
    print("|---|---:|---:|---:|---:|")
    var total = 0.0
    for (label, flops, count, body) in items {
        body()  // warm up
        let start = Date()
        body()
        let seconds = Date().timeIntervalSince(start)
        total += seconds * Double(count)
        let rate = flops > 0 ? String(format: "%.1f", flops / seconds / 1e9) : "-"
        print(
            String(
                format: "| %@ | %.1f | %d | %.1f | %@ |", label as NSString, seconds * 1000, count,
                seconds * 1000 * Double(count), rate as NSString))
    }
    print(String(format: "| total | | | %.1f | |", total * 1000))
}
