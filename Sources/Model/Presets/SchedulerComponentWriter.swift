// scheduler/scheduler_config.json: diffusers UniPCMultistepScheduler as the Wan2.1 pipelines ship it.

/// Writes the UniPC scheduler config of the Wan2.1 text-to-video pipelines (flow prediction, flow sigmas,
/// `flow_shift` from the preset, solver order 2, bh2, lower order final).
public struct SchedulerComponentWriter: ModelComponentWriter {
    /// Creates the writer.
    public init() {}
    /// The subfolder.
    public var component: String { "scheduler" }
    /// The model_index entry.
    public var modelIndexEntry: (library: String, className: String) { ("diffusers", "UniPCMultistepScheduler") }

    /// The file's text for a given flow shift.
    public static func configText(flowShift: Double) -> String {
        """
        {
          "_class_name": "UniPCMultistepScheduler",
          "_diffusers_version": "0.42.1",
          "beta_end": 0.02,
          "beta_schedule": "linear",
          "beta_start": 0.0001,
          "disable_corrector": [],
          "dynamic_thresholding_ratio": 0.995,
          "final_sigmas_type": "zero",
          "flow_shift": \(flowShift),
          "lower_order_final": true,
          "num_train_timesteps": 1000,
          "predict_x0": true,
          "prediction_type": "flow_prediction",
          "rescale_betas_zero_snr": false,
          "sample_max_value": 1.0,
          "solver_order": 2,
          "solver_p": null,
          "solver_type": "bh2",
          "steps_offset": 0,
          "thresholding": false,
          "timestep_spacing": "linspace",
          "trained_betas": null,
          "use_beta_sigmas": false,
          "use_exponential_sigmas": false,
          "use_flow_sigmas": true,
          "use_karras_sigmas": false
        }

        """
    }

    /// Writes `scheduler_config.json`.
    public func write(_ options: ModelFolderOptions, to directory: String, progress: (String) -> Void) throws {
        try ModelFolderWriter.writeFile(
            SchedulerComponentWriter.configText(flowShift: options.preset.flowShift),
            to: directory + "/scheduler_config.json")
    }
}
