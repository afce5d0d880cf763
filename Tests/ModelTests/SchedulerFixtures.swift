// Loads the diffusers scheduler fixtures written by scripts/fixtures/schedulers.py (Tests/Fixtures/schedulers).
import Foundation
import Testing
import Model

/// The reference numbers diffusers 0.42.1 produced for the schedulers.
enum SchedulerFixtures {
    /// One `set_timesteps` case of tables.json.
    struct TableCase: Sendable {
        let name: String
        let configuration: SchedulerConfiguration
        let steps: Int
        let timesteps: [Double]
        let sigmas: [Float]
    }

    /// One denoising run (steps_<name>.json).
    struct StepRun: Sendable {
        let name: String
        let configuration: SchedulerConfiguration
        let steps: Int
        let beginIndex: Int
        let sample: Tensor
        let modelOutputs: [Tensor]
        let outputs: [Tensor]
    }

    /// One forward-noising case of noise.json.
    struct NoiseCase: Sendable {
        let configuration: SchedulerConfiguration
        let steps: Int
        let index: Int
        let result: Tensor
    }

    static let stepRunNames = [
        "unipc_wan", "unipc_short", "unipc_one", "unipc_order1", "unipc_order3", "unipc_bh1",
        "unipc_no_lower_final", "unipc_disable_corrector", "unipc_sdedit", "euler_wan", "euler_invert",
        "euler_sdedit",
    ]

    static func object(_ file: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("schedulers/\(file)")))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func configuration(_ value: Any?) throws -> SchedulerConfiguration {
        let object = try #require(value as? [String: Any])
        return try SchedulerConfiguration(jsonData: JSONSerialization.data(withJSONObject: object))
    }

    static func floats(_ value: Any?) throws -> [Float] {
        try #require(value as? [Any]).map { Float(try #require(($0 as? NSNumber)?.doubleValue)) }
    }

    static func tableCases() throws -> [TableCase] {
        let cases = try #require(try object("tables.json")["cases"] as? [[String: Any]])
        return try cases.map { entry in
            TableCase(
                name: try #require(entry["name"] as? String),
                configuration: try configuration(entry["config"]),
                steps: try #require(entry["steps"] as? Int),
                timesteps: try #require(entry["timesteps"] as? [Any]).map {
                    try #require(($0 as? NSNumber)?.doubleValue)
                },
                sigmas: try floats(entry["sigmas"]))
        }
    }

    static func stepRun(_ name: String) throws -> StepRun {
        let entry = try object("steps_\(name).json")
        let shape = try #require(entry["shape"] as? [Int])
        let tensor = { (value: Any?) throws -> Tensor in Tensor(shape: shape, scalars: try floats(value)) }
        return StepRun(
            name: name,
            configuration: try configuration(entry["config"]),
            steps: try #require(entry["steps"] as? Int),
            beginIndex: try #require(entry["begin_index"] as? Int),
            sample: try tensor(entry["sample"]),
            modelOutputs: try #require(entry["model_outputs"] as? [Any]).map(tensor),
            outputs: try #require(entry["outputs"] as? [Any]).map(tensor))
    }

    static func noiseCases() throws -> (clean: Tensor, noise: Tensor, cases: [NoiseCase]) {
        let entry = try object("noise.json")
        let shape = try #require(entry["shape"] as? [Int])
        let tensor = { (value: Any?) throws -> Tensor in Tensor(shape: shape, scalars: try floats(value)) }
        let cases = try #require(entry["cases"] as? [[String: Any]]).map { item in
            NoiseCase(
                configuration: try configuration(item["config"]),
                steps: try #require(item["steps"] as? Int),
                index: try #require(item["index"] as? Int),
                result: try tensor(item["result"]))
        }
        return (try tensor(entry["clean"]), try tensor(entry["noise"]), cases)
    }
}
