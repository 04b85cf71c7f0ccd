// RiseFall on tables of results: every path between up and down, the counters and the result text.
import Health
import Testing

struct RiseFallTests {
    /// One row: rise, fall, a result sequence ("s" success, "f" failure), and the expected state after each
    /// result ("u"/"d") with a "*" where that result caused a transition.
    struct Row: Sendable, CustomStringConvertible {
        var rise: Int
        var fall: Int
        var results: String
        var states: String
        var description: String { "rise \(rise) fall \(fall): \(results)" }
    }

    static let rows: [Row] = [
        Row(rise: 1, fall: 1, results: "sfsf", states: "u* d* u* d*"),
        Row(rise: 2, fall: 2, results: "ssff", states: "d u* u d*"),
        Row(rise: 2, fall: 2, results: "sfsfss", states: "d d d d d u*"),
        Row(rise: 2, fall: 3, results: "ssffsfff", states: "d u* u u u u u d*"),
        Row(rise: 3, fall: 1, results: "sssfsss", states: "d d u* d* d d u*"),
        Row(rise: 2, fall: 2, results: "ffff", states: "d d d d"),
        Row(rise: 2, fall: 2, results: "sssss", states: "d u* u u u"),
        Row(rise: 1, fall: 3, results: "sffsfffs", states: "u* u u u u u d* u*"),
        Row(rise: 0, fall: 0, results: "sf", states: "u* d*"),
        Row(rise: -5, fall: 2, results: "sff", states: "u* u d*"),
    ]

    @Test(arguments: rows)
    func table(row: Row) {
        var machine = RiseFall(rise: row.rise, fall: row.fall)
        #expect(machine.state == .down)
        let expected = row.states.split(separator: " ")
        #expect(expected.count == row.results.count)
        for (index, (result, want)) in zip(row.results, expected).enumerated() {
            let before = machine.state
            let transition = machine.record(success: result == "s", detail: "run \(index)")
            let wantState: HealthState = want.first == "u" ? .up : .down
            #expect(machine.state == wantState, "after result \(index + 1) of \(row)")
            if want.hasSuffix("*") {
                #expect(transition == Transition(from: before, to: wantState), "after result \(index + 1) of \(row)")
            } else {
                #expect(transition == nil, "after result \(index + 1) of \(row)")
            }
            #expect(machine.lastResult == "run \(index)")
        }
    }

    @Test func startsDownWithZeroCounters() {
        let machine = RiseFall(rise: 2, fall: 3)
        #expect(machine.state == .down)
        #expect(!machine.isUp)
        #expect(machine.successesInRow == 0)
        #expect(machine.failuresInRow == 0)
        #expect(machine.lastResult == nil)
        #expect(machine.rise == 2 && machine.fall == 3)
    }

    @Test func fallAtOnceTakesAnUpCheckDownAtItsFirstFailureOnly() {
        var machine = RiseFall(rise: 1, fall: 3)
        machine.record(success: true)
        #expect(machine.record(success: false, fallAtOnce: false) == nil)
        #expect(machine.record(success: true) == nil)
        #expect(machine.record(success: false, fallAtOnce: true) == Transition(from: .up, to: .down))
        // Rising is untouched by it.
        var rising = RiseFall(rise: 2, fall: 3)
        #expect(rising.record(success: true, fallAtOnce: true) == nil)
        #expect(rising.record(success: true, fallAtOnce: true) == Transition(from: .down, to: .up))
    }

    @Test func belowOneIsTreatedAsOne() {
        let machine = RiseFall(rise: 0, fall: -1)
        #expect(machine.rise == 1 && machine.fall == 1)
    }

    @Test func countersKeepCountingAndResetOnTheOtherResult() {
        var machine = RiseFall(rise: 2, fall: 2)
        for _ in 0..<5 { machine.record(success: true) }
        #expect(machine.successesInRow == 5 && machine.failuresInRow == 0)
        machine.record(success: false, detail: "timeout")
        #expect(machine.successesInRow == 0 && machine.failuresInRow == 1)
        #expect(machine.lastResult == "timeout")
        #expect(machine.isUp)
        for _ in 0..<6 { machine.record(success: false) }
        #expect(machine.failuresInRow == 7)
        #expect(machine.state == .down)
        #expect(machine.lastResult == nil)
    }

    @Test func transitionDescription() {
        #expect(Transition(from: .down, to: .up).description == "down -> up")
    }
}
