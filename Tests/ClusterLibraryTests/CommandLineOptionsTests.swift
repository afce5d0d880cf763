// The one command-line parser every executable uses: values, flags, repeats, and the errors it names.
import Cluster
import Testing

@Suite struct CommandLineOptionsTests {
    static let specs: [OptionSpec] = [
        .value("--steps", "N", "steps"), .value("--memory", "SIZE", "budget"), .flag("--quiet", "quiet"),
        .value("--connect", "FILE", "clips", repeatable: true), .value("--guidance", "G", "scale"),
    ]

    @Test func readsValuesFlagsAndRepeats() throws {
        let options = try CommandLineOptions(
            ["--steps", "4", "--memory=2GiB", "--quiet", "--connect", "a.y4m", "--connect=b.y4m", "--guidance", "1.5"],
            specs: Self.specs)
        #expect(try options.int("--steps", in: 1...100) == 4)
        #expect(try options.byteSize("--memory") == 2 << 30)
        #expect(options.flag("--quiet"))
        #expect(options.strings("--connect") == ["a.y4m", "b.y4m"])
        #expect(try options.double("--guidance") == 1.5)
        #expect(options.string("--absent") == nil)
    }

    @Test(arguments: [
        (["--bogus"], "unknown option '--bogus'; see --help"),
        (["--steps"], "option '--steps' needs a value (N)"),
        (["--steps", "1", "--steps", "2"], "option '--steps' given more than once"),
        (["--quiet=yes"], "option '--quiet' takes no value"),
        (["extra"], "unexpected argument 'extra'; see --help"),
    ])
    func refusesBadCommandLines(arguments: [String], message: String) {
        #expect(throws: CommandLineError(message)) { try CommandLineOptions(arguments, specs: Self.specs) }
    }

    @Test func namesTheOptionAndValueOfABadNumber() throws {
        let options = try CommandLineOptions(["--steps", "many", "--memory", "lots", "--guidance", "nan"], specs: Self.specs)
        #expect(throws: CommandLineError("option '--steps' expects an integer, got 'many'")) { try options.int("--steps") }
        #expect(throws: CommandLineError("option '--memory' expects a size such as 4GiB, 512MiB or 1000000, got 'lots'")) {
            try options.byteSize("--memory")
        }
        #expect(throws: CommandLineError("option '--guidance' expects a number, got 'nan'")) { try options.double("--guidance") }
        #expect(throws: CommandLineError("missing required option '--connect'")) { try options.required("--connect") }
    }
}

extension CommandLineError: Equatable {
    public static func == (a: CommandLineError, b: CommandLineError) -> Bool { a.description == b.description }
}
