// ByteSize: the sizes accepted by `worker --memory`, `generate --memory` and cluster.yaml.
import Testing
import Model

@Suite struct ByteSizeTests {
    @Test func unitsCountInPowersOf1024Or1000() {
        #expect(ByteSize.parse("4GiB") == 4 * 1_073_741_824)
        #expect(ByteSize.parse("512MiB") == 512 * 1_048_576)
        #expect(ByteSize.parse("2G") == 2 * 1_073_741_824)
        #expect(ByteSize.parse("1.5K") == 1536)
        #expect(ByteSize.parse("300KB") == 300_000)
        #expect(ByteSize.parse("3TB") == 3_000_000_000_000)
        #expect(ByteSize.parse("1000000") == 1_000_000)
        #expect(ByteSize.parse("64B") == 64)
        #expect(ByteSize.parse(" 8 GiB ") == 8 * 1_073_741_824)
    }

    @Test func refusesWhatIsNotAPositiveSize() {
        for text in ["", "lots", "GiB", "0", "0GiB", "-1G", "1.5", "1.5B", "nanG", "infG", "0x10M", "1..5G",
                     "99999999999999999999", "9000000TiB", "4 GiBs", "4GiB4"] {
            #expect(ByteSize.parse(text) == nil, "\(text)")
        }
    }
}
