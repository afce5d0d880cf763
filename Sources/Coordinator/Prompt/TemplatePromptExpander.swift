// The deterministic prompt expander used when no chat endpoint is configured: the user's words first, then scene,
// motion, camera and lighting sentences picked from fixed tables by a stable hash of the prompt.
import Foundation

/// Turns a short prompt into a video-caption-like paragraph without a language model.
///
/// The same prompt always gives the same text (FNV-1a 64 of its UTF-8 bytes picks one phrase per table, each table
/// with its own salt), on every machine and Swift version; the prompt itself is kept verbatim at the start.
public enum TemplatePromptExpander {
    /// The phrase tables, in the order their sentences are appended.
    static let tables: [(name: String, phrases: [String])] = [
        ("scene", [
            "The scene is set outdoors with a clear sense of depth, a detailed foreground and a soft background.",
            "The setting is rich in texture, with natural materials and small details filling the frame.",
            "The surroundings are calm and uncluttered, so the subject stands out against a simple backdrop.",
            "The environment feels lived-in and real, with layered elements receding into the distance.",
            "The wider scene opens up around the subject, showing the landscape stretching far behind it.",
            "The location is quiet and atmospheric, with faint haze softening everything far away.",
            "The backdrop is vivid and colorful, its shapes framing the subject from both sides.",
            "The space around the subject is intimate and close, with nearby objects partly in view.",
        ]),
        ("motion", [
            "The subject moves slowly and smoothly, each motion continuous from the first frame to the last.",
            "Movement is gentle and natural, with small secondary motions such as drifting dust and swaying details.",
            "The action unfolds at a steady pace, with clear, readable motion and no sudden jumps.",
            "There is lively, energetic motion, yet every movement stays fluid and physically plausible.",
            "The subject turns and shifts its weight gradually while the background stays mostly still.",
            "Subtle motion runs through the whole frame, as light wind moves loose elements back and forth.",
        ]),
        ("camera", [
            "The camera holds a steady medium shot at eye level.",
            "The camera slowly pushes in toward the subject.",
            "The camera tracks alongside the subject in a smooth lateral move.",
            "The camera pans gently from left to right across the scene.",
            "A wide establishing shot from a slightly elevated angle, the camera nearly still.",
            "A close-up with a shallow depth of field, the camera drifting slightly as if handheld.",
            "The camera slowly pulls back to reveal more of the surroundings.",
            "A low-angle shot looks up at the subject as the camera rises gently.",
        ]),
        ("lighting", [
            "Soft, warm golden-hour light falls from the side and casts long shadows.",
            "Even, diffused daylight under an overcast sky gives gentle contrast.",
            "Bright midday sun creates crisp highlights and well-defined shadows.",
            "Cool blue twilight light mixes with warm practical lights in the scene.",
            "Dramatic low-key lighting leaves much of the frame in shadow around a bright subject.",
            "Natural light with a soft backlight outlines the subject with a thin glowing rim.",
        ]),
        ("style", [
            "Photorealistic, high detail, natural colors, cinematic quality.",
            "Realistic film look with fine grain and rich, balanced colors.",
            "Sharp, high-resolution footage with true-to-life textures and colors.",
            "Cinematic, detailed and coherent from start to finish, with natural color grading.",
        ]),
    ]

    /// The expanded prompt: `prompt` (trimmed, a full stop added if it ends without punctuation) followed by one
    /// sentence from each table.
    public static func expand(_ prompt: String) throws(PromptExpansionError) -> String {
        let trimmed = prompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw PromptExpansionError("the prompt to expand is empty") }
        var text = trimmed
        if let last = text.last, !".!?。".contains(last) { text += "." }
        let hash = fnv1a64(Array(trimmed.utf8))
        for (index, table) in tables.enumerated() {
            let pick = Int(mix(hash ^ (UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15)) % UInt64(table.phrases.count))
            text += " " + table.phrases[pick]
        }
        return text
    }

    /// FNV-1a, 64 bits: a stable hash (Swift's `Hasher` is seeded per process).
    static func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// The SplitMix64 finaliser, so each table's pick depends on every bit of the hash.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
