// `coordinator debug tokenize`: the ids and attention mask the tokenizer gives a text, as JSON.
import Model
import Cluster

/// Prints `{"input_ids": [...], "attention_mask": [...]}` for a text, padded and truncated as the Wan pipeline
/// calls its tokenizer.
enum DebugTokenizeCommand: Command {
    static let name = "tokenize"
    static let summary = "print a text's token ids and attention mask as JSON"

    static let specs: [OptionSpec] = [
        .value("--model", "DIR", "model folder with tokenizer/tokenizer.json, a tokenizer folder, or the file"),
        .value("--text", "TEXT", "the text to encode"),
        .value("--max-sequence-length", "N",
               "pad and truncate to N tokens (default \(Tokenizer.defaultMaxSequenceLength))"),
    ]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") {
            print(usageText(
                synopsis: "coordinator debug tokenize --model DIR --text TEXT [--max-sequence-length N]",
                description: "Encodes TEXT with the model's tokenizer (padding to max length, truncation, special "
                    + "tokens) and prints the input ids and attention mask as JSON.",
                specs: specs))
            return 0
        }
        let options = try CommandLineOptions(arguments, specs: specs)
        let model = try options.required("--model")
        let text = try options.required("--text")
        let length = try options.int("--max-sequence-length", in: 1...Tokenizer.maxSequenceLengthLimit)
            ?? Tokenizer.defaultMaxSequenceLength
        let tokenizer = try Tokenizer(path: model)
        let encoding = try tokenizer.encode(text, maxSequenceLength: length)
        let ids = encoding.inputIDs.map(String.init).joined(separator: ", ")
        let mask = encoding.attentionMask.map(String.init).joined(separator: ", ")
        print("{\"input_ids\": [\(ids)], \"attention_mask\": [\(mask)]}")
        return 0
    }
}
