// The three LoRA key layouts diffusers' WanLoraLoaderMixin.lora_state_dict accepts for Wan, and how a file's keys
// say which one it uses.

/// How a LoRA file names its tensors.
public enum LoRAKeyFormat: String, Sendable, Equatable, CustomStringConvertible {
    /// diffusers / PEFT: `transformer.blocks.0.attn1.to_q.lora_A.weight`, `lora_B.weight`, `lora_B.bias`, with
    /// `lora_alpha` and `r` in the header's `lora_adapter_metadata` when the file carries them.
    case diffusers
    /// The original Wan names (ComfyUI, lightx2v, CausVid): `diffusion_model.blocks.0.self_attn.q.lora_down.weight`,
    /// `lora_up.weight`, `.alpha`, `.diff_b`, `.diff` (diffusers' `_convert_non_diffusers_wan_lora_to_diffusers`).
    case wan
    /// musubi-tuner / kohya: `lora_unet_blocks_0_self_attn_q.lora_down.weight` with `.alpha`
    /// (diffusers' `_convert_musubi_wan_lora_to_diffusers`).
    case musubi

    /// The format of a file with these keys, decided as diffusers decides it: any `diffusion_model.` key makes it
    /// the Wan format, else any `lora_unet_` key musubi's, else diffusers'.
    public static func detect(keys: [String]) -> LoRAKeyFormat {
        if keys.contains(where: { $0.hasPrefix("diffusion_model.") }) { return .wan }
        if keys.contains(where: { $0.hasPrefix("lora_unet_") }) { return .musubi }
        return .diffusers
    }

    public var description: String {
        switch self {
        case .diffusers: return "diffusers/PEFT"
        case .wan: return "original Wan (diffusion_model.*)"
        case .musubi: return "musubi/kohya (lora_unet_*)"
        }
    }
}

/// What one key of a LoRA file is, once its format's names are mapped to diffusers' modules.
enum LoRAKeyRole: Equatable {
    /// `lora_A` / `lora_down`: `[rank, in]`.
    case down
    /// `lora_B` / `lora_up`: `[out, rank]`.
    case up
    /// The module's `alpha` (scale `alpha / rank`, applied the way the format's converter applies it).
    case alpha
    /// A bias delta (`lora_B.bias`, `.diff_b`).
    case bias
    /// A whole-weight delta (`.diff`) that diffusers turns into `lora_A` with an identity `lora_B`.
    case weightDelta
}

/// A key mapped to a module and a role, or one diffusers' converter drops, with the reason.
enum LoRAKeyMapping: Equatable {
    case mapped(module: String, role: LoRAKeyRole)
    case ignored(reason: String)
}
