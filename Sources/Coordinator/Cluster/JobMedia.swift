// The input media of a cluster job: attachments of `submit`, checked and stored by content under state_dir, so
// the coordinator reads exactly the frames the client's `generate` would and can re-read them on resume.
import Foundation
import Model
import Wire

/// Stores and resolves the media a job's task options name.
enum JobMedia {
    /// Most attachments in one submission.
    static let maxAttachments = 8
    /// Most bytes of all attachments of one submission (they arrive in one frame, itself bounded by the wire).
    static let maxTotalBytes = 480 << 20
    /// Attachment file extensions accepted: clients convert anything else to Y4M with their own ffmpeg.
    static let extensions: Set<String> = ["png", "y4m"]

    /// Checks the attachments and writes each as `state_dir/media/<sha256>.<ext>` (once; identical media shares a
    /// file). Returns attachment name -> stored path.
    static func store(_ attachments: [Attachment], stateDirectory: String) throws -> [String: String] {
        guard attachments.count <= maxAttachments else {
            throw ClusterError("\(attachments.count) attachments; a job takes at most \(maxAttachments)")
        }
        let total = attachments.reduce(0) { $0 + $1.bytes.count }
        guard total <= maxTotalBytes else {
            throw ClusterError("the attachments hold \(total) bytes; the limit is \(maxTotalBytes)")
        }
        let folder = (stateDirectory as NSString).appendingPathComponent("media")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var stored: [String: String] = [:]
        for attachment in attachments {
            let name = attachment.name
            let ext = (name as NSString).pathExtension.lowercased()
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 < 0x80 && ($0 == 0x2E || $0 == 0x2D || $0 == 0x5F || isalnum(Int32($0)) != 0) }),
                  extensions.contains(ext) else {
                throw ClusterError("attachment name '\(name)' must be letters, digits, '.', '-', '_' ending in .png or .y4m")
            }
            guard stored[name] == nil else { throw ClusterError("attachment '\(name)' is given twice") }
            let digest = SHA256.hash(Array(attachment.bytes)).map { String(format: "%02x", $0) }.joined()
            let path = (folder as NSString).appendingPathComponent("\(digest).\(ext)")
            if !FileManager.default.fileExists(atPath: path) {
                try writeAtomically(Data(attachment.bytes), to: path)
            }
            stored[name] = path
        }
        return stored
    }

    /// The request with every media option's attachment name replaced by its stored path. A media option must
    /// name an attachment: a client never makes the coordinator read a path of its own choosing.
    static func resolve(_ request: JobRequest, stored: [String: String]) throws -> JobRequest {
        var request = request
        var used = Set<String>()
        for option in JobOptions.mediaOptions {
            guard let value = request.options[option] else { continue }
            let names = JobRequest.values(of: option, value)
            let paths = try names.map { name -> String in
                guard let path = stored[name] else {
                    throw ClusterError("option '\(option)' names '\(name)', which is not an attachment of this job")
                }
                used.insert(name)
                return path
            }
            request.options[option] = paths.joined(separator: "\n")
        }
        if let unused = stored.keys.sorted().first(where: { !used.contains($0) }) {
            throw ClusterError("attachment '\(unused)' is not used by any media option")
        }
        return request
    }
}
