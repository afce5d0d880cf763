// Reading scheduler/scheduler_config.json: the classes and options we implement, and the errors for the rest.
import Foundation
import Testing
import Model

@Suite struct SchedulerConfigTests {
    /// The Wan2.1 T2V diffusers checkpoints' scheduler_config.json.
    static let wanConfig = """
        {"_class_name": "UniPCMultistepScheduler", "_diffusers_version": "0.33.0.dev0", "beta_end": 0.02,
         "beta_schedule": "linear", "beta_start": 0.0001, "disable_corrector": [], "dynamic_thresholding_ratio": 0.995,
         "final_sigmas_type": "zero", "flow_shift": 3.0, "lower_order_final": true, "num_train_timesteps": 1000,
         "predict_x0": true, "prediction_type": "flow_prediction", "rescale_betas_zero_snr": false,
         "sample_max_value": 1.0, "solver_order": 2, "solver_p": null, "solver_type": "bh2", "steps_offset": 0,
         "thresholding": false, "timestep_spacing": "linspace", "trained_betas": null, "use_beta_sigmas": false,
         "use_exponential_sigmas": false, "use_flow_sigmas": true, "use_karras_sigmas": false}
        """

    private func decode(_ json: String) throws -> SchedulerConfiguration {
        try SchedulerConfiguration(jsonData: Data(json.utf8))
    }

    /// The Wan config with one field replaced (JSON text of the new value).
    private func wan(_ key: String, _ value: String) -> String {
        var object = try! JSONSerialization.jsonObject(with: Data(Self.wanConfig.utf8)) as! [String: Any]
        object[key] = try! JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
        return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test func wanConfigDecodes() throws {
        let configuration = try decode(Self.wanConfig)
        #expect(configuration == .wanDefault(flowShift: 3))
        #expect(configuration.kind == .unipc)
        #expect(configuration.shift == 3)
    }

    @Test func unknownClassIsNamed() throws {
        #expect(throws: SchedulerError.unknownClass("DDIMScheduler")) {
            try decode(#"{"_class_name": "DDIMScheduler"}"#)
        }
        #expect(throws: SchedulerError.self) { try decode(#"{"shift": 3.0}"#) }
        #expect(throws: SchedulerError.self) { try decode(#"[1, 2]"#) }
        #expect(throws: SchedulerError.self) { try decode(#"{"_class_name": "#) }
        let error = SchedulerError.unknownClass("DDIMScheduler")
        #expect(error.description.contains("DDIMScheduler"))
    }

    @Test func unsupportedOptionsAreNamed() throws {
        let refused: [(String, String)] = [
            ("use_dynamic_shifting", "true"), ("thresholding", "true"), ("prediction_type", "\"epsilon\""),
            ("use_flow_sigmas", "false"), ("use_karras_sigmas", "true"), ("solver_p", "{}"),
            ("predict_x0", "false"), ("solver_order", "4"), ("solver_type", "\"rk4\""),
            ("final_sigmas_type", "\"one\""), ("flow_shift", "0"), ("flow_shift", "-2"), ("shift_terminal", "1"),
            ("num_train_timesteps", "0"), ("num_train_timesteps", "1.5"), ("timestep_spacing", "\"random\""),
            ("disable_corrector", "[\"a\"]"), ("beta_schedule", "\"cosine\""),
            ("solver_type", "\"bh1\""),
        ]
        for (key, value) in refused {
            do {
                _ = try decode(wan(key, value))
                Issue.record("\(key) = \(value) was accepted")
            } catch let error as SchedulerError {
                #expect(error.description.contains(key), "\(error) should name \(key)")
            }
        }
        let euler = #"{"_class_name": "FlowMatchEulerDiscreteScheduler""#
        for extra in [#""use_dynamic_shifting": true"#, #""stochastic_sampling": true"#, #""use_beta_sigmas": true"#,
            #""time_shift_type": "cubic""#, #""shift": "3""#, #""shift": true"#, #""invert_sigmas": 1"#]
        {
            #expect(throws: SchedulerError.self, "\(extra)") { try decode(euler + ", " + extra + "}") }
        }
    }

    @Test func legacySolverTypesBecomeBh2AndUnknownFieldsAreIgnored() throws {
        guard case .unipc(let config) = try decode(wan("solver_type", "\"midpoint\"")) else {
            Issue.record("expected UniPC")
            return
        }
        #expect(config.solverType == "bh2")
        #expect(try decode(wan("some_future_field", "42")) == .wanDefault())
    }

    @Test func commandLineOverrides() throws {
        let wan = try decode(Self.wanConfig)
        #expect(try wan.overriding(shift: 5) == .wanDefault(flowShift: 5))
        let euler = try wan.overriding(kind: .euler)
        #expect(euler == .euler(FlowMatchEulerDiscreteConfig(numTrainTimesteps: 1000, shift: 3)))
        #expect(try euler.overriding(kind: .unipc, shift: 7) == .wanDefault(flowShift: 7))
        #expect(throws: SchedulerError.self) { try wan.overriding(shift: -1) }
        #expect(try SchedulerKind(name: "euler") == .euler)
        #expect(throws: SchedulerError.unknownSchedulerName("ddim")) { try SchedulerKind(name: "ddim") }
    }

    @Test(arguments: [
        SchedulerConfiguration.wanDefault(flowShift: 5),
        .euler(FlowMatchEulerDiscreteConfig(numTrainTimesteps: 500, shift: 2.5)),
    ])
    func writtenConfigReadsBack(configuration: SchedulerConfiguration) throws {
        let data = try configuration.jsonData()
        #expect(try SchedulerConfiguration(jsonData: data) == configuration)
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("scheduler-config-\(UUID().uuidString)")
        let schedulerFolder = directory.appendingPathComponent("scheduler")
        try FileManager.default.createDirectory(at: schedulerFolder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try data.write(to: schedulerFolder.appendingPathComponent("scheduler_config.json"))
        #expect(try SchedulerConfiguration(contentsOf: directory.path) == configuration)
        #expect(throws: SchedulerError.self) {
            try SchedulerConfiguration(contentsOf: directory.appendingPathComponent("missing").path)
        }
    }
}
