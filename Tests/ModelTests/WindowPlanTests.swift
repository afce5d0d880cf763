// Tests of temporal window planning: coverage, overlaps, and blend weights that sum to one.
import Testing
@testable import Model

@Suite struct WindowPlanTests {
    static let cases: [(frames: Int, window: Int, overlap: Int, looping: Bool)] = [
        (1, 21, 5, false), (21, 21, 5, false), (22, 21, 5, false), (41, 21, 5, false), (61, 21, 5, false),
        (240, 21, 5, false), (7, 3, 1, false), (10, 4, 0, false), (30, 21, 5, true), (61, 21, 5, true),
        (5, 3, 2, true),
    ]

    @Test(arguments: cases.indices)
    func everyFrameIsCoveredAndWeightsSumToOne(caseIndex: Int) throws {
        let setting = Self.cases[caseIndex]
        let plan = try WindowPlan(
            latentFrames: setting.frames, windowFrames: setting.window, overlap: setting.overlap,
            looping: setting.looping)
        var sums = [Double](repeating: 0, count: setting.frames)
        for window in plan.windows {
            #expect(window.frames.count == min(setting.window, setting.frames))
            #expect(window.weights.count == window.frames.count)
            for (frame, weight) in zip(window.frames, window.weights) {
                #expect(weight > 0 && weight <= 1)
                sums[frame] += Double(weight)
            }
        }
        for (frame, sum) in sums.enumerated() {
            #expect(abs(sum - 1) < 1e-6, "frame \(frame) weights sum to \(sum)")
        }
        #expect(plan.coverage.allSatisfy { $0 >= 1 })
    }

    @Test func neighboursOverlapByAtLeastTheRequestedAmount() throws {
        let plan = try WindowPlan(latentFrames: 100, windowFrames: 21, overlap: 5)
        #expect(plan.windows.first?.frames.first == 0)
        #expect(plan.windows.last?.frames.last == 99)
        for (a, b) in zip(plan.windows, plan.windows.dropFirst()) {
            #expect(Set(a.frames).intersection(b.frames).count >= 5)
            #expect(b.frames == Array(b.frames[0]...(b.frames[0] + 20)))
        }
    }

    @Test func shortClipIsOneWindowOfWeightOne() throws {
        let plan = try WindowPlan(latentFrames: 13, windowFrames: 21, overlap: 5)
        #expect(plan.windows.count == 1)
        #expect(plan.windows[0].frames == Array(0..<13))
        #expect(plan.windows[0].weights.allSatisfy { $0 == 1 })
    }

    @Test func weightsTaperInsideTheOverlap() throws {
        let plan = try WindowPlan(latentFrames: 37, windowFrames: 21, overlap: 5)
        #expect(plan.windows.count == 2)
        let first = plan.windows[0], second = plan.windows[1]
        let shared = first.frames.filter { second.frames.contains($0) }
        let firstWeights = shared.map { first.weights[first.frames.firstIndex(of: $0)!] }
        #expect(firstWeights == firstWeights.sorted(by: >), "the ending window fades out")
        #expect(firstWeights.first! > 0.5 && firstWeights.last! < 0.5)
    }

    @Test func loopingPlanWrapsOntoTheStart() throws {
        let plan = try WindowPlan(latentFrames: 40, windowFrames: 21, overlap: 5, looping: true)
        let last = try #require(plan.windows.last)
        #expect(last.frames.contains(0), "the last window wraps around")
        #expect(Set(last.frames).intersection(plan.windows[0].frames).count >= 5)
    }

    @Test func badSettingsAreRefusedWithTheValue() {
        #expect(throws: WindowPlanError.self) { try WindowPlan(latentFrames: 0, windowFrames: 21, overlap: 5) }
        #expect(throws: WindowPlanError.self) { try WindowPlan(latentFrames: 30, windowFrames: 5, overlap: 5) }
        do {
            _ = try WindowPlan(latentFrames: 30, windowFrames: 5, overlap: -1)
            Issue.record("a negative overlap was accepted")
        } catch {
            #expect(error.description.contains("-1"))
        }
    }
}
