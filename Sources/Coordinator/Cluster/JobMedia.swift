// The input media of a cluster job: attachments of `submit`, checked and stored by content under state_dir, so
// the coordinator reads exactly the frames the client's `generate` would and can re-read them on resume.
import Foundation
import Model
import Wire
import Cluster

/// Stores and resolves the media a job's task options name.
enum JobMedia {
    /// Most attachments in one submission.
    static let maxAttachments = 8
    /// Most bytes of all attachments of one submission (they arrive in one frame, itself bounded by the wire).
    static let maxTotalBytes = 480 << 20
    /// Attachment file extensions accepted: clients convert anything else to Y4M with their own ffmpeg.
    static let extensions: Set<String> = ["png", "y4m", "safetensors"]

    /// Attachments written to a submission's own staging folder, not yet part of any job.
    struct Staged {
        /// The staging folder (removed by `commit` or `discard`).
        let folder: String
        /// Attachment name -> staged path.
        let paths: [String: String]
        /// Staged path -> the content-addressed path it gets on commit.
        let finalPaths: [String: String]
    }

    /// Checks the attachments and writes each into a fresh staging folder under `state_dir/media`, named by its
    /// SHA-256; `commit` moves them to `state_dir/media/<sha256>.<ext>` once the job is accepted.
    static func stage(_ attachments: [Attachment], stateDirectory: String) throws -> Staged {
        guard attachments.count <= maxAttachments else {
            throw ClusterError("attachments: \(attachments.count) given; a job takes at most \(maxAttachments)")
        }
        let total = attachments.reduce(0) { $0 + $1.bytes.count }
        guard total <= maxTotalBytes else {
            throw ClusterError("attachments: \(total) bytes in all; the limit is \(maxTotalBytes)")
        }
        let media = (stateDirectory as NSString).appendingPathComponent("media")
        let folder = (media as NSString).appendingPathComponent("incoming-\(UUID().uuidString)")
        var paths: [String: String] = [:]
        var finalPaths: [String: String] = [:]
        guard !attachments.isEmpty else { return Staged(folder: folder, paths: [:], finalPaths: [:]) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        do {
            for attachment in attachments {
                let name = attachment.name
                let ext = (name as NSString).pathExtension.lowercased()
                guard !name.isEmpty,
                      name.utf8.allSatisfy(isNameByte),
                      extensions.contains(ext) else {
                    throw ClusterError("attachments: name '\(name)' must be letters, digits, '.', '-', '_' ending in .png, .y4m or .safetensors")
                }
                guard paths[name] == nil else { throw ClusterError("attachments: '\(name)' is given twice") }
                let digest = SHA256.hash(Array(attachment.bytes)).map { String(format: "%02x", $0) }.joined()
                let staged = (folder as NSString).appendingPathComponent("\(digest).\(ext)")
                if !FileManager.default.fileExists(atPath: staged) {
                    try StateStore.writeAtomically(Data(attachment.bytes), to: staged)
                }
                paths[name] = staged
                finalPaths[staged] = (media as NSString).appendingPathComponent("\(digest).\(ext)")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
        return Staged(folder: folder, paths: paths, finalPaths: finalPaths)
    }

    /// Moves the staged files to their content-addressed paths (replacing an identical file is harmless: a reader
    /// keeps what it opened, and the content is the same) and points the spec's media at them.
    static func commit(_ staged: Staged, spec: inout VideoJobSpec) throws {
        for (from, to) in staged.finalPaths {
            guard rename(from, to) == 0 else { throw ClusterError("cannot move \(from) to \(to): errno \(errno)") }
        }
        if var media = spec.media {
            for index in media.indices {
                media[index].source = staged.finalPaths[media[index].source] ?? media[index].source
            }
            spec.media = media
        }
        spec.loras = spec.loras?.map { lora in
            LoRAReference(path: staged.finalPaths[lora.path] ?? lora.path, scale: lora.scale)
        }
        discard(staged)
    }

    /// ASCII letters, digits, '.', '-' and '_'.
    private static func isNameByte(_ byte: UInt8) -> Bool {
        byte < 0x80 && (byte == 0x2E || byte == 0x2D || byte == 0x5F || isalnum(Int32(byte)) != 0)
    }

    /// Removes a staging folder (the submission was refused, or its files were committed).
    static func discard(_ staged: Staged) {
        try? FileManager.default.removeItem(atPath: staged.folder)
    }

    /// Where a submitted request's media comes from: its attachments, by name. A task must name an attachment of
    /// the job (a client never makes the coordinator read a path of its own choosing), every attachment must be
    /// used, and frames are read from the bytes received, so errors name the attachment, not a staged path.
    static func source(_ staged: Staged, _ attachments: [Attachment]) throws -> JobRequest.MediaSource {
        let bytes = Dictionary(attachments.map { ($0.name, Array($0.bytes)) }, uniquingKeysWith: { first, _ in first })
        let paths = staged.paths
        return JobRequest.MediaSource(
            path: { name in
                guard let path = paths[name] else { throw ClusterError("'\(name)' is not an attachment of this job") }
                return path
            },
            load: { name in
                guard let data = bytes[name] else { throw ClusterError("'\(name)' is not an attachment of this job") }
                return try MediaLoader.load(bytes: data, name: "attachment \(name)")
            })
    }

    /// Refuses attachments no task or LoRA names.
    static func checkAllUsed(_ staged: Staged, by request: JobRequest) throws {
        let used = Set((request.task?.media ?? []) + (request.loras ?? []).map(\.path))
        if let unused = staged.paths.keys.sorted().first(where: { !used.contains($0) }) {
            throw ClusterError("attachments: '\(unused)' is not used by any media option")
        }
    }
}
