// Tests of the safetensors reader, writer and the strict WeightStore, including hostile files.
import Foundation
import Testing
@testable import Model

/// A fresh temporary folder for one test.
func temporaryFolder(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "/kernels-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Writes a raw safetensors file: 8-byte length, `header` verbatim, then `data`.
func writeRaw(_ path: String, header: String, data: [UInt8], declaredLength: UInt64? = nil) throws {
    var bytes = [UInt8]()
    withUnsafeBytes(of: (declaredLength ?? UInt64(header.utf8.count)).littleEndian) { bytes += $0 }
    bytes += Array(header.utf8)
    bytes += data
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// The CheckpointError a throwing call produced, or nil.
func checkpointError(_ body: () throws -> Void) -> CheckpointError? {
    do {
        try body()
        return nil
    } catch let error as CheckpointError {
        return error
    } catch {
        return nil
    }
}

@Suite struct CheckpointSafeTensorsTests {
    // MARK: - Reading files written by Python

    @Test(arguments: ["f32", "f16", "bf16"])
    func readsPythonWrittenFiles(dtypeName: String) throws {
        let file = try SafeTensorsFile(path: Fixtures.path("kernels/dtype_\(dtypeName).safetensors"))
        let expected = try SafeTensorsFile(path: Fixtures.path("kernels/expected.safetensors"))
        #expect(file.names == ["a", "b", "empty", "scalar"])
        #expect(file.metadata == ["format": "pt", "note": "kernels fixture"])
        let dtype: DType = dtypeName == "f32" ? .float32 : dtypeName == "f16" ? .float16 : .bfloat16
        for name in file.names {
            let stored = try file.tensor(named: name)
            #expect(stored.dtype == dtype)
            let reference = try expected.tensor(named: "\(dtypeName).\(name)").float32()
            #expect(stored.shape == reference.shape)
            #expect(stored.float32().scalars == reference.scalars, "\(dtypeName).\(name)")
        }
    }

    @Test func refusesUnsupportedDTypeByName() {
        let error = checkpointError { _ = try SafeTensorsFile(path: Fixtures.path("kernels/dtype_i64.safetensors")) }
        #expect(error == .unsupportedDType(key: "ids", dtype: "I64", file: "dtype_i64.safetensors"))
        #expect(error?.description.contains("\"ids\"") == true)
    }

    // MARK: - Writer round trips

    @Test(arguments: DType.allCases)
    func writerRoundTrip(dtype: DType) throws {
        let folder = try temporaryFolder("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let a = Tensor.randomNormal(shape: [3, 7], seed: 1, stream: 1)
        let b = Tensor.randomNormal(shape: [5], seed: 1, stream: 2)
        let path = folder + "/model.safetensors"
        try SafeTensorsWriter.write(
            [(name: "z.last", tensor: b), (name: "a.first", tensor: a), (name: "empty", tensor: Tensor(zeros: [0, 3]))],
            dtype: dtype, metadata: ["format": "pt", "quote\"d": "line\nbreak"], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.names == ["a.first", "empty", "z.last"])
        #expect(file.metadata == ["format": "pt", "quote\"d": "line\nbreak"])
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = raw.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(headerLength % 8 == 0)
        for (name, original) in [("a.first", a), ("z.last", b)] {
            let stored = try file.tensor(named: name)
            #expect(stored.dtype == dtype)
            // Expected: the value narrowed to the dtype, computed independently of the writer.
            let expected = original.scalars.map { value -> Float in
                switch dtype {
                case .float32: return value
                case .float16: return Float(Float16(value))
                case .bfloat16: return Float(bitPattern: UInt32(DType.bfloat16Bits(value)) << 16)
                }
            }
            #expect(stored.float32().scalars == expected)
        }
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp-\(getpid())"))
    }

    // MARK: - Hostile files

    @Test func rejectsTruncatedFile() throws {
        let folder = try temporaryFolder("truncated")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/t.safetensors"
        try SafeTensorsWriter.write([(name: "w", tensor: Tensor(zeros: [4, 4]))], to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: path))
        let error = checkpointError { _ = try SafeTensorsFile(path: path) }
        guard case .truncated(let file, let reason)? = error else {
            Issue.record("expected truncated, got \(String(describing: error))")
            return
        }
        #expect(file == "t.safetensors" && reason.contains("\"w\""))
        try bytes.prefix(5).write(to: URL(fileURLWithPath: path))
        guard case .truncated? = checkpointError({ _ = try SafeTensorsFile(path: path) }) else {
            Issue.record("expected truncated for a 5-byte file")
            return
        }
    }

    @Test func rejectsHeaderLengthBeyondFile() throws {
        let folder = try temporaryFolder("header")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/h.safetensors"
        try writeRaw(path, header: "{}", data: [], declaredLength: 4096)
        guard case .truncated(_, let reason)? = checkpointError({ _ = try SafeTensorsFile(path: path) }) else {
            Issue.record("expected truncated")
            return
        }
        #expect(reason.contains("4096"))
        try writeRaw(path, header: "{}", data: [], declaredLength: 1 << 40)
        guard case .invalidHeader(_, let limitReason)? = checkpointError({ _ = try SafeTensorsFile(path: path) }) else {
            Issue.record("expected invalidHeader for a huge header length")
            return
        }
        #expect(limitReason.contains("limit"))
    }

    @Test func rejectsOverlappingOffsets() throws {
        let folder = try temporaryFolder("overlap")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/o.safetensors"
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        try writeRaw(path, header: header, data: [UInt8](repeating: 0, count: 12))
        #expect(checkpointError({ _ = try SafeTensorsFile(path: path) }) == .overlappingTensors(first: "a", second: "b", file: "o.safetensors"))
    }

    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, "bad JSON"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, "duplicate key"),
        (#"[1,2]"#, "not a JSON object"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} x"#, "trailing"),
    ])
    func rejectsBadJSON(header: String, reasonFragment: String) throws {
        let folder = try temporaryFolder("json")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/j.safetensors"
        try writeRaw(path, header: header, data: [UInt8](repeating: 0, count: 8))
        guard case .invalidHeader(let file, let reason)? = checkpointError({ _ = try SafeTensorsFile(path: path) }) else {
            Issue.record("expected invalidHeader for \(header)")
            return
        }
        #expect(file == "j.safetensors")
        #expect(reason.contains(reasonFragment), "\(reason)")
    }

    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, "needs 12"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, "begin after end"),
        (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, "non-negative"),
        (#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, "overflows"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#, "unknown field"),
        (#"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, "non-negative integer"),
    ])
    func rejectsBadEntries(header: String, reasonFragment: String) throws {
        let folder = try temporaryFolder("entry")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/e.safetensors"
        try writeRaw(path, header: header, data: [UInt8](repeating: 0, count: 8))
        guard case .invalidTensor(let key, _, let reason)? = checkpointError({ _ = try SafeTensorsFile(path: path) }) else {
            Issue.record("expected invalidTensor for \(header)")
            return
        }
        #expect(key == "a")
        #expect(reason.contains(reasonFragment), "\(reason)")
    }
}
