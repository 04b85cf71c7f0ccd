// Unit tests of the strict JSON reader: positions (lines, columns in characters, CRLF, BOM), string
// decoding, and the inputs it must refuse, each with its position.
import Testing

@testable import Config

private func parse(_ text: String) throws(JSONSyntaxError) -> JSONNode {
    var parser = JSONParser(Array(text.utf8))
    return try parser.parseDocument()
}

private func members(_ node: JSONNode) -> [JSONMember] {
    guard case .object(let members) = node.value else { return [] }
    return members
}

private func elements(_ node: JSONNode) -> [JSONNode] {
    guard case .array(let elements) = node.value else { return [] }
    return elements
}

private func at(_ line: Int, _ column: Int) -> SourcePosition { SourcePosition(line: line, column: column) }

@Test func positionsAcrossLines() throws {
    let root = try parse("{\n  \"a\": [1,\n   \"x y\", {\"b\": true}],\n\t\"c\": null\n}")
    #expect(root.position == at(1, 1))
    let top = members(root)
    #expect(top.map(\.key) == ["a", "c"])
    #expect(top[0].keyPosition == at(2, 3))
    #expect(top[0].value.position == at(2, 8))
    let array = elements(top[0].value)
    #expect(array.map(\.position) == [at(2, 9), at(3, 4), at(3, 11)])
    #expect(members(array[2])[0].keyPosition == at(3, 12))
    #expect(members(array[2])[0].value.position == at(3, 17))
    // A tab is one column.
    #expect(top[1].keyPosition == at(4, 2))
    #expect(top[1].value.position == at(4, 7))
}

@Test func columnsCountCharactersNotBytes() throws {
    // "é" is 2 bytes and "😀" 4 bytes in UTF-8, but each is one column.
    let root = try parse("{\"é\": \"😀\", \"k\": 1}")
    let top = members(root)
    #expect(top[0].key == "é")
    #expect(top[0].value.position == at(1, 7))
    #expect(top[1].keyPosition == at(1, 12))
    #expect(top[1].value.position == at(1, 17))
}

@Test func crlfAndByteOrderMark() throws {
    let root = try parse("\u{FEFF}{\r\n\"a\": 1,\r\n  \"b\": 2}")
    #expect(root.position == at(1, 1))
    #expect(members(root).map(\.keyPosition) == [at(2, 1), at(3, 3)])
}

@Test func stringEscapesDecode() throws {
    let root = try parse(#"["\u00e9\ud83d\ude00\n\/\"\\\t\b\f\r"]"#)
    guard case .string(let text) = elements(root)[0].value else {
        Issue.record("expected a string")
        return
    }
    #expect(text == "é😀\n/\"\\\t\u{08}\u{0C}\r")
}

@Test func numbersAreKeptAsWritten() throws {
    let root = try parse("[-0.5e10, 0, 12, 1E+2]")
    let texts = elements(root).compactMap { node -> String? in
        if case .number(let text) = node.value { return text }
        return nil
    }
    #expect(texts == ["-0.5e10", "0", "12", "1E+2"])
}

@Test func duplicateKeysAreReportedWithoutStopping() throws {
    var parser = JSONParser(Array("{\"a\": 1,\n \"a\": 2, \"b\": 3}".utf8))
    let root = try parser.parseDocument()
    #expect(members(root).map(\.key) == ["a", "b"])
    #expect(parser.nonFatal.count == 1)
    #expect(parser.nonFatal.first?.position == at(2, 2))
    #expect(parser.nonFatal.first?.message == "duplicate key \"a\" (first at 1:2)")
}

@Test(
    arguments: [
        ("{\"a\": 1,}", at(1, 8), "trailing comma before '}' is not allowed in JSON"),
        ("[1, 2, ]", at(1, 6), "trailing comma before ']' is not allowed in JSON"),
        ("{\"a\": 1} x", at(1, 10), "unexpected text after the end of the JSON document"),
        ("/* c */ {}", at(1, 1), "comments are not allowed in JSON"),
        ("{\"a\": NaN}", at(1, 7), "NaN is not allowed in JSON"),
        ("[-Infinity]", at(1, 2), "-Infinity is not allowed in JSON"),
        ("[01]", at(1, 2), "numbers must not have leading zeros"),
        ("[-]", at(1, 2), "invalid number: expected a digit after '-'"),
        ("[1.]", at(1, 4), "invalid number: expected a digit after '.'"),
        ("[1e]", at(1, 4), "invalid number: expected a digit in the exponent"),
        ("[+1]", at(1, 2), "unexpected '+'; expected a value"),
        ("[\"abc", at(1, 2), "unterminated string: the closing '\"' is missing"),
        ("[\"a\\qb\"]", at(1, 4), "invalid escape \"\\q\"; JSON allows \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX"),
        ("[\"\\u12G4\"]", at(1, 3), "invalid escape: \\u needs exactly four hex digits"),
        ("[\"\\udc00\"]", at(1, 3), "invalid escape: lone low surrogate \\uDC00"),
        ("[\"\\u0000\"]", at(1, 3), "the NUL character (\\u0000) is not allowed in this file"),
        ("{a: 1}", at(1, 2), "object keys must be strings in double quotes"),
        ("{\"a\" 1}", at(1, 6), "unexpected '1'; expected ':' after the key \"a\""),
        ("{\"a\": 1 \"b\": 2}", at(1, 9), "unexpected '\"'; expected ',' or '}' after the value of \"a\""),
        ("[1 2]", at(1, 4), "unexpected '2'; expected ',' or ']' in the array"),
        ("[True]", at(1, 2), "unexpected \"True\"; expected a value (strings need double quotes)"),
        ("", at(1, 1), "the file is empty; expected a JSON object"),
        ("  \n ", at(2, 2), "the file is empty; expected a JSON object"),
        ("{\n\"a\": [1,\n", at(3, 1), "unexpected end of file; the array opened at 2:6 is not closed"),
        ("{\"a\": 1", at(1, 8), "unexpected end of file; the object opened at 1:1 is not closed"),
    ] as [(String, SourcePosition, String)])
func rejects(input: String, position: SourcePosition, message: String) {
    do {
        _ = try parse(input)
        Issue.record("accepted \(input)")
    } catch {
        #expect(error.position == position)
        #expect(error.message == message)
    }
}

@Test(
    arguments: [
        ([0x5B, 0x22, 0xC3, 0x28, 0x22, 0x5D], "invalid UTF-8 sequence starting with byte 0xC3"),  // bad continuation
        ([0x5B, 0x22, 0xC0, 0xAF, 0x22, 0x5D], "invalid UTF-8: byte 0xC0 cannot start a character"),  // overlong '/'
        ([0x5B, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x5D], "invalid UTF-8 sequence starting with byte 0xED"),  // surrogate
        ([0x5B, 0x22, 0xF4, 0x90, 0x80, 0x80, 0x22, 0x5D], "invalid UTF-8 sequence starting with byte 0xF4"),
        ([0x5B, 0x22, 0xE2, 0x82, 0x22, 0x5D], "invalid UTF-8 sequence starting with byte 0xE2"),  // truncated
        ([0x5B, 0xC3, 0xA9, 0x5D], "unexpected byte 0xC3; expected a value"),  // non-ASCII outside a string
    ] as [([UInt8], String)])
func rejectsInvalidUTF8(bytes: [UInt8], message: String) {
    var parser = JSONParser(bytes)
    do {
        _ = try parser.parseDocument()
        Issue.record("accepted \(bytes)")
    } catch {
        #expect(error.message == message)
    }
}

@Test func nestingIsLimited() {
    let deep = String(repeating: "[", count: JSONParser.maximumDepth + 1) + String(repeating: "]", count: 65)
    do {
        _ = try parse(deep)
        Issue.record("accepted \(JSONParser.maximumDepth + 1) levels")
    } catch {
        #expect(error.message == "nesting is deeper than \(JSONParser.maximumDepth) levels")
    }
    let fine =
        String(repeating: "[", count: JSONParser.maximumDepth) + String(repeating: "]", count: JSONParser.maximumDepth)
    #expect(throws: Never.self) { try parse(fine) }
}
