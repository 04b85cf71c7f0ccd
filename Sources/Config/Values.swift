// Parsers and rules for the small textual values of the desired-state file: communities (RFC 1997,
// RFC 8092), ASNs (RFC 6793, RFC 7607), Linux interface names, object names, HOST:PORT and DNS names.
import NetAddress

/// Parses `ASN:VALUE` with both parts decimal 0...65535 (RFC 1997).
public func parseCommunity(_ text: String) -> Community? {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, let asn = decimal(parts[0], max: UInt32(UInt16.max)),
        let local = decimal(parts[1], max: UInt32(UInt16.max))
    else { return nil }
    return Community(asn: UInt16(asn), value: UInt16(local))
}

/// Parses `GLOBAL:LOCAL1:LOCAL2` with each part decimal 0...4294967295 (RFC 8092).
public func parseLargeCommunity(_ text: String) -> LargeCommunity? {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 3, let global = decimal(parts[0], max: UInt32.max),
        let local1 = decimal(parts[1], max: UInt32.max), let local2 = decimal(parts[2], max: UInt32.max)
    else { return nil }
    return LargeCommunity(global: global, local1: local1, local2: local2)
}

/// Plain decimal digits without sign or leading zeros, at most `max`.
private func decimal(_ text: Substring, max: UInt32) -> UInt32? {
    guard !text.isEmpty, text.count <= 10, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
        text.count == 1 || text.first != "0", let value = UInt64(text), value <= UInt64(max)
    else { return nil }
    return UInt32(value)
}

/// Why an ASN in 0...2^32-1 cannot be used, or nil when it can (range errors are reported elsewhere).
func asnProblem(_ asn: Int64) -> String? {
    switch asn {
    case 0: "ASN 0 is reserved and cannot be used in a session (RFC 7607)"
    case 23456: "ASN 23456 is AS_TRANS (RFC 6793), a placeholder for 4-byte ASNs; use the real ASN"
    default: nil
    }
}

/// Why `name` cannot be a Linux interface name, or nil when it can (the kernel's dev_valid_name rules).
func interfaceNameProblem(_ name: String) -> String? {
    if name.isEmpty { return "interface name must not be empty" }
    if name.utf8.count > 15 {
        return "interface name \(quoteExcerpt(name)) is \(name.utf8.count) bytes long; Linux allows at most 15"
    }
    if name == "." || name == ".." { return "\(quoteExcerpt(name)) is not a valid interface name" }
    if name.unicodeScalars.contains(where: { $0 == "/" || $0 == ":" || $0.properties.isWhitespace }) {
        return "interface name \(quoteExcerpt(name)) must not contain '/', ':' or whitespace"
    }
    return nil
}

/// Why `name` cannot name a peer or service, or nil when it can. Names appear in logs, metrics labels
/// and control-socket commands, so they are kept to 1...64 characters of `A-Z a-z 0-9 _ . -`.
func objectNameProblem(_ name: String, what: String) -> String? {
    if name.isEmpty { return "\(what) name must not be empty" }
    if name.utf8.count > 64 { return "\(what) name \(quoteExcerpt(name)) is longer than 64 characters" }
    let allowed = name.unicodeScalars.allSatisfy { scalar in
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || scalar == "_" || scalar == "." || scalar == "-"
    }
    if !allowed {
        return "\(what) name \(quoteExcerpt(name)) may only contain letters, digits, '_', '.' and '-'"
    }
    return nil
}

/// Parses `HOST:PORT` where HOST is an IPv4 address or a bracketed IPv6 address (`[::1]:9477`).
func parseListenAddress(_ text: String) -> (address: IPAddress, port: Int)? {
    let host: Substring
    let port: Substring
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { return nil }
        host = text[text.index(after: text.startIndex)..<close]
        let rest = text[text.index(after: close)...]
        guard rest.hasPrefix(":") else { return nil }
        port = rest.dropFirst()
        guard host.contains(":") else { return nil }
    } else {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        host = text[..<colon]
        port = text[text.index(after: colon)...]
        guard !host.contains(":") else { return nil }
    }
    guard let address = IPAddress(host), !port.isEmpty, port.count <= 5,
        port.utf8.allSatisfy({ (0x30...0x39).contains($0) }), port.first != "0", let number = Int(port),
        (1...65535).contains(number)
    else { return nil }
    return (address, number)
}

/// True for a domain name in presentation form: `.`, or labels of 1...63 letters, digits, '-' or '_'
/// (service labels such as `_dns._udp`), at most 253 characters without the optional final dot.
func isValidDNSName(_ name: String) -> Bool {
    if name == "." { return true }
    let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
    guard !trimmed.isEmpty, trimmed.utf8.count <= 253 else { return false }
    return trimmed.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
        !label.isEmpty && label.utf8.count <= 63
            && label.unicodeScalars.allSatisfy { scalar in
                ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || scalar == "-" || scalar == "_"
            }
    }
}

/// Why a host prefix cannot be announced as anycast, or nil when it can.
func anycastAddressProblem(_ address: IPAddress) -> String? {
    switch address {
    case .v4(let v4):
        if v4.isUnspecified { return "it is the unspecified address" }
        if v4.value >> 24 == 127 { return "it is a loopback address" }
        if v4.value >> 28 == 0xE { return "it is a multicast address" }
        if v4.value == UInt32.max { return "it is the broadcast address" }
        if v4.value >> 28 == 0xF { return "it is in the reserved range 240.0.0.0/4" }
        return nil
    case .v6(let v6):
        if v6.isUnspecified { return "it is the unspecified address" }
        if v6.high == 0 && v6.low == 1 { return "it is the loopback address" }
        if v6.high >> 56 == 0xFF { return "it is a multicast address" }
        if v6.isLinkLocal { return "it is a link-local address" }
        if v6.high == 0 && v6.low >> 32 == 0xFFFF { return "it is an IPv4-mapped address (write the IPv4 form)" }
        return nil
    }
}
