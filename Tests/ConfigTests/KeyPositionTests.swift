// The position of a top-level key, for `anycastd check`'s warnings about a whole section.
import Config
import Testing

struct KeyPositionTests {
    @Test func findsTopLevelKeysOnly() {
        let text = """
            {
              "interface": { "services": 1 },
                "services": []
            }
            """
        let bytes = Array(text.utf8)
        #expect(ConfigLoader.topLevelKeyPosition("services", in: bytes) == SourcePosition(line: 3, column: 5))
        #expect(ConfigLoader.topLevelKeyPosition("bgp", in: bytes) == nil)
        #expect(ConfigLoader.topLevelKeyPosition("services", in: Array("{ \"services\": [".utf8)) == nil)
        #expect(ConfigLoader.topLevelKeyPosition("services", in: Array("[]".utf8)) == nil)
    }
}
