// A strict RFC 8259 JSON reader that remembers where every key and value starts, so the decoder can
// point at the exact line and column of a problem. It rejects what lenient readers let through:
// trailing commas, comments, NaN/Infinity, leading zeros, bad escapes, invalid UTF-8, trailing text.

/// A JSON value and the position of its first character.
struct JSONNode: Sendable {
    enum Value: Sendable {
        case null
        case bool(Bool)
        /// The number exactly as written; the decoder decides which numbers a field accepts.
        case number(String)
        case string(String)
        case array([JSONNode])
        /// Members in file order, without duplicates (a repeated key is reported and its later value dropped).
        case object([JSONMember])
    }

    var value: Value
    var position: SourcePosition

    /// "a string", "an object", ... for messages such as "expected a string, got a number".
    var kindDescription: String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

struct JSONMember: Sendable {
    var key: String
    var keyPosition: SourcePosition
    var value: JSONNode
}

/// A syntax error: parsing stops at the first one, since what follows cannot be trusted.
struct JSONSyntaxError: Error {
    var position: SourcePosition
    var path: JSONPath
    var message: String
}

/// Problems that do not stop parsing (duplicate keys); reported alongside the decoder's findings.
struct JSONWarning {
    var position: SourcePosition
    var path: JSONPath
    var message: String
}

struct JSONParser {
    /// Deep enough for any sensible config, shallow enough that recursion cannot exhaust the stack.
    static let maximumDepth = 64

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var column = 1
    private(set) var nonFatal: [JSONWarning] = []

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        // A UTF-8 byte order mark is allowed by RFC 8259 section 8.1 to be ignored; editors on some
        // systems add one. It does not count as a column.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    }

    /// Parses one JSON document that must fill the whole input.
    mutating func parseDocument() throws(JSONSyntaxError) -> JSONNode {
        skipWhitespace()
        guard index < bytes.count else {
            throw JSONSyntaxError(position: position, path: .root, message: "the file is empty; expected a JSON object")
        }
        let node = try parseValue(path: .root, depth: 0)
        skipWhitespace()
        guard index == bytes.count else {
            throw error("unexpected text after the end of the JSON document", path: .root)
        }
        return node
    }

    private var position: SourcePosition { SourcePosition(line: line, column: column) }
    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// Steps over one ASCII byte, keeping line and column.
    private mutating func advance() {
        if bytes[index] == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    private mutating func skipWhitespace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { advance() }
    }

    private func error(_ message: String, path: JSONPath, at position: SourcePosition? = nil) -> JSONSyntaxError {
        JSONSyntaxError(position: position ?? self.position, path: path, message: message)
    }

    /// Explains the byte at the current position when it cannot start what was expected.
    private func unexpected(_ expected: String, path: JSONPath) -> JSONSyntaxError {
        guard let byte = peek else { return error("unexpected end of file; expected \(expected)", path: path) }
        switch byte {
        case UInt8(ascii: "/"):
            return error("comments are not allowed in JSON", path: path)
        case UInt8(ascii: "'"):
            return error("strings must be in double quotes, not single quotes", path: path)
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
            let word = self.word()
            if word == "NaN" || word == "Infinity" {
                return error("\(word) is not allowed in JSON", path: path)
            }
            return error("unexpected \"\(word)\"; expected \(expected) (strings need double quotes)", path: path)
        case 0x21...0x7E:
            return error("unexpected '\(Character(Unicode.Scalar(byte)))'; expected \(expected)", path: path)
        default:
            return error("unexpected byte " + hexByte(byte) + "; expected \(expected)", path: path)
        }
    }

    /// The run of letters, digits and underscores at the current position (not consumed).
    private func word() -> String {
        var end = index
        while end < bytes.count, isWordByte(bytes[end]) { end += 1 }
        return String(decoding: bytes[index..<end], as: UTF8.self)
    }

    private func isWordByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
    }

    private mutating func parseValue(path: JSONPath, depth: Int) throws(JSONSyntaxError) -> JSONNode {
        let start = position
        guard let byte = peek else { throw unexpected("a value", path: path) }
        switch byte {
        case UInt8(ascii: "{"):
            return try parseObject(path: path, depth: depth)
        case UInt8(ascii: "["):
            return try parseArray(path: path, depth: depth)
        case UInt8(ascii: "\""):
            return JSONNode(value: .string(try parseString(path: path)), position: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return JSONNode(value: .number(try parseNumber(path: path)), position: start)
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let word = self.word()
            let value: JSONNode.Value
            switch word {
            case "true": value = .bool(true)
            case "false": value = .bool(false)
            case "null": value = .null
            default: throw unexpected("a value", path: path)
            }
            for _ in word.utf8 { advance() }
            return JSONNode(value: value, position: start)
        default:
            throw unexpected("a value", path: path)
        }
    }

    private mutating func parseObject(path: JSONPath, depth: Int) throws(JSONSyntaxError) -> JSONNode {
        let start = position
        guard depth < Self.maximumDepth else {
            throw error("nesting is deeper than \(Self.maximumDepth) levels", path: path)
        }
        advance()
        skipWhitespace()
        var members: [JSONMember] = []
        var seen: [String: SourcePosition] = [:]
        if peek == UInt8(ascii: "}") {
            advance()
            return JSONNode(value: .object(members), position: start)
        }
        while true {
            skipWhitespace()
            guard peek != nil else {
                throw error("unexpected end of file; the object opened at \(start) is not closed", path: path)
            }
            guard peek == UInt8(ascii: "\"") else {
                if peek.map(isWordByte) == true {
                    throw error("object keys must be strings in double quotes", path: path)
                }
                throw unexpected("a key in double quotes", path: path)
            }
            let keyPosition = position
            let key = try parseString(path: path)
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else {
                throw unexpected("':' after the key \(quoteExcerpt(key))", path: path)
            }
            advance()
            skipWhitespace()
            let value = try parseValue(path: path.appending(key), depth: depth + 1)
            if let first = seen[key] {
                nonFatal.append(
                    JSONWarning(
                        position: keyPosition, path: path.appending(key),
                        message: "duplicate key \(quoteExcerpt(key)) (first at \(first))"))
            } else {
                seen[key] = keyPosition
                members.append(JSONMember(key: key, keyPosition: keyPosition, value: value))
            }
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","):
                let comma = position
                advance()
                skipWhitespace()
                if peek == UInt8(ascii: "}") {
                    throw error("trailing comma before '}' is not allowed in JSON", path: path, at: comma)
                }
            case UInt8(ascii: "}"):
                advance()
                return JSONNode(value: .object(members), position: start)
            case nil:
                throw error("unexpected end of file; the object opened at \(start) is not closed", path: path)
            default:
                throw unexpected("',' or '}' after the value of \(quoteExcerpt(key))", path: path)
            }
        }
    }

    private mutating func parseArray(path: JSONPath, depth: Int) throws(JSONSyntaxError) -> JSONNode {
        let start = position
        guard depth < Self.maximumDepth else {
            throw error("nesting is deeper than \(Self.maximumDepth) levels", path: path)
        }
        advance()
        skipWhitespace()
        var elements: [JSONNode] = []
        if peek == UInt8(ascii: "]") {
            advance()
            return JSONNode(value: .array(elements), position: start)
        }
        while true {
            skipWhitespace()
            guard peek != nil else {
                throw error("unexpected end of file; the array opened at \(start) is not closed", path: path)
            }
            elements.append(try parseValue(path: path.appending(elements.count), depth: depth + 1))
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","):
                let comma = position
                advance()
                skipWhitespace()
                if peek == UInt8(ascii: "]") {
                    throw error("trailing comma before ']' is not allowed in JSON", path: path, at: comma)
                }
            case UInt8(ascii: "]"):
                advance()
                return JSONNode(value: .array(elements), position: start)
            case nil:
                throw error("unexpected end of file; the array opened at \(start) is not closed", path: path)
            default:
                throw unexpected("',' or ']' in the array", path: path)
            }
        }
    }

    private mutating func parseNumber(path: JSONPath) throws(JSONSyntaxError) -> String {
        let start = position
        let startIndex = index
        if peek == UInt8(ascii: "-") {
            advance()
            if let byte = peek, !isDigit(byte), isWordByte(byte) {
                throw error("-\(word()) is not allowed in JSON", path: path, at: start)
            }
        }
        if peek == UInt8(ascii: "0") {
            advance()
            if let byte = peek, isDigit(byte) {
                throw error("numbers must not have leading zeros", path: path, at: start)
            }
        } else if let byte = peek, isDigit(byte) {
            while let byte = peek, isDigit(byte) { advance() }
        } else {
            throw error("invalid number: expected a digit after '-'", path: path, at: start)
        }
        if peek == UInt8(ascii: ".") {
            advance()
            guard let byte = peek, isDigit(byte) else {
                throw error("invalid number: expected a digit after '.'", path: path)
            }
            while let byte = peek, isDigit(byte) { advance() }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            advance()
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { advance() }
            guard let byte = peek, isDigit(byte) else {
                throw error("invalid number: expected a digit in the exponent", path: path)
            }
            while let byte = peek, isDigit(byte) { advance() }
        }
        return String(decoding: bytes[startIndex..<index], as: UTF8.self)
    }

    private func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private mutating func parseString(path: JSONPath) throws(JSONSyntaxError) -> String {
        let start = position
        advance()
        var scalars = String.UnicodeScalarView()
        while true {
            guard let byte = peek else {
                throw error("unterminated string: the closing '\"' is missing", path: path, at: start)
            }
            switch byte {
            case UInt8(ascii: "\""):
                advance()
                return String(scalars)
            case UInt8(ascii: "\\"):
                scalars.append(try parseEscape(path: path))
            case 0x0A, 0x0D:
                throw error(
                    "unterminated string: a line break must be written as \\n inside a string", path: path, at: start)
            case 0x00..<0x20:
                throw error(
                    "control character U+00" + hexByte(byte).dropFirst(2) + " must be escaped inside a string",
                    path: path)
            case 0x20..<0x80:
                scalars.append(Unicode.Scalar(byte))
                advance()
            default:
                scalars.append(try parseUTF8Scalar(path: path))
            }
        }
    }

    /// One escape sequence starting at the backslash, RFC 8259 section 7.
    private mutating func parseEscape(path: JSONPath) throws(JSONSyntaxError) -> Unicode.Scalar {
        let start = position
        advance()
        guard let byte = peek else {
            throw error("unterminated string: the closing '\"' is missing", path: path, at: start)
        }
        let simple: [UInt8: Unicode.Scalar] = [
            UInt8(ascii: "\""): "\"", UInt8(ascii: "\\"): "\\", UInt8(ascii: "/"): "/", UInt8(ascii: "b"): "\u{08}",
            UInt8(ascii: "f"): "\u{0C}", UInt8(ascii: "n"): "\n", UInt8(ascii: "r"): "\r", UInt8(ascii: "t"): "\t",
        ]
        if let scalar = simple[byte] {
            advance()
            return scalar
        }
        guard byte == UInt8(ascii: "u") else {
            let shown = byte >= 0x21 && byte <= 0x7E ? String(Character(Unicode.Scalar(byte))) : "?"
            throw error(
                "invalid escape \"\\\(shown)\"; JSON allows \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX", path: path,
                at: start)
        }
        advance()
        let first = try parseHex4(path: path, escapeStart: start)
        var value = UInt32(first)
        if (0xD800...0xDBFF).contains(first) {
            // A high surrogate must be followed by an escaped low surrogate: together they are one character.
            guard peek == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                throw error(
                    "invalid escape: high surrogate \\u\(hex4(first)) is not followed by a low surrogate",
                    path: path, at: start)
            }
            let secondStart = position
            advance()
            advance()
            let second = try parseHex4(path: path, escapeStart: secondStart)
            guard (0xDC00...0xDFFF).contains(second) else {
                throw error(
                    "invalid escape: high surrogate \\u\(hex4(first)) is not followed by a low surrogate",
                    path: path, at: start)
            }
            value = 0x10000 + (UInt32(first) - 0xD800) << 10 + (UInt32(second) - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(first) {
            throw error("invalid escape: lone low surrogate \\u\(hex4(first))", path: path, at: start)
        }
        guard value != 0, let scalar = Unicode.Scalar(value) else {
            throw error("the NUL character (\\u0000) is not allowed in this file", path: path, at: start)
        }
        return scalar
    }

    private func hex4(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    private mutating func parseHex4(path: JSONPath, escapeStart: SourcePosition) throws(JSONSyntaxError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = peek, let digit = hexValue(byte) else {
                throw error("invalid escape: \\u needs exactly four hex digits", path: path, at: escapeStart)
            }
            value = value << 4 | UInt16(digit)
            advance()
        }
        return value
    }

    private func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Decodes one multi-byte UTF-8 sequence (RFC 3629): no overlong forms, no surrogates, at most U+10FFFF.
    private mutating func parseUTF8Scalar(path: JSONPath) throws(JSONSyntaxError) -> Unicode.Scalar {
        let lead = bytes[index]
        let invalid = error("invalid UTF-8: byte " + hexByte(lead) + " cannot start a character", path: path)
        let length: Int
        var value: UInt32
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF:
            length = 2
            value = UInt32(lead & 0x1F)
        case 0xE0...0xEF:
            length = 3
            value = UInt32(lead & 0x0F)
            if lead == 0xE0 { secondRange = 0xA0...0xBF }  // overlong below U+0800
            if lead == 0xED { secondRange = 0x80...0x9F }  // UTF-16 surrogates
        case 0xF0...0xF4:
            length = 4
            value = UInt32(lead & 0x07)
            if lead == 0xF0 { secondRange = 0x90...0xBF }  // overlong below U+10000
            if lead == 0xF4 { secondRange = 0x80...0x8F }  // above U+10FFFF
        default:
            throw invalid
        }
        for offset in 1..<length {
            let range = offset == 1 ? secondRange : 0x80...0xBF
            guard index + offset < bytes.count, range.contains(bytes[index + offset]) else {
                throw error("invalid UTF-8 sequence starting with byte \(hexByte(lead))", path: path)
            }
            value = value << 6 | UInt32(bytes[index + offset] & 0x3F)
        }
        guard let scalar = Unicode.Scalar(value) else { throw invalid }
        index += length
        column += 1
        return scalar
    }
}

/// A byte as `0xAB`.
private func hexByte(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16, uppercase: true)
    return "0x" + (digits.count == 1 ? "0" : "") + digits
}
