// Walking netlink attributes (struct nlattr) with libmnl, for the decoder. The iteration macros
// mnl_attr_for_each* are not importable, so CMnl's shim provides their start and bounds checks.
import CMnl

/// Calls `body` with each attribute of a message whose fixed header (ifinfomsg, ifaddrmsg) is `headerSize` bytes.
func forEachAttribute(
    in message: UnsafePointer<nlmsghdr>, headerSize: Int, _ body: (UnsafePointer<nlattr>) -> Void
) {
    guard Int(mnl_nlmsg_get_payload_len(message)) >= mnl_align(headerSize),
        var attribute = acd_msg_first_attr(message, headerSize)
    else { return }
    while acd_msg_attr_ok(message, attribute) {
        body(attribute)
        attribute = UnsafePointer(mnl_attr_next(attribute))
    }
}

/// Calls `body` with each attribute nested in `nest`.
func forEachNested(in nest: UnsafePointer<nlattr>, _ body: (UnsafePointer<nlattr>) -> Void) {
    guard var attribute = acd_nest_first_attr(nest) else { return }
    while acd_nest_attr_ok(nest, attribute) {
        body(attribute)
        attribute = UnsafePointer(mnl_attr_next(attribute))
    }
}

/// The attribute's type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits.
func attributeType(_ attribute: UnsafePointer<nlattr>) -> Int {
    Int(mnl_attr_get_type(attribute))
}

/// The attribute's payload as bytes.
func attributeBytes(_ attribute: UnsafePointer<nlattr>) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(
        start: mnl_attr_get_payload(attribute), count: Int(mnl_attr_get_payload_len(attribute)))
}

/// A string attribute (IFLA_IFNAME, IFLA_INFO_KIND), up to its NUL or its end if the kernel sent none.
func attributeString(_ attribute: UnsafePointer<nlattr>) -> String {
    let bytes = attributeBytes(attribute)
    let end = bytes.firstIndex(of: 0) ?? bytes.count
    return String(decoding: bytes[..<end], as: UTF8.self)
}

/// A u8 attribute, or nil when the payload is too short.
func attributeU8(_ attribute: UnsafePointer<nlattr>) -> UInt8? {
    let bytes = attributeBytes(attribute)
    return bytes.isEmpty ? nil : bytes[0]
}

/// A u32 attribute in host byte order, or nil when the payload is too short.
func attributeU32(_ attribute: UnsafePointer<nlattr>) -> UInt32? {
    let bytes = attributeBytes(attribute)
    return bytes.count >= 4 ? bytes.loadUnaligned(as: UInt32.self) : nil
}

/// NLMSG_ALIGN / MNL_ALIGN: netlink pads headers and attributes to four bytes.
func mnl_align(_ length: Int) -> Int { (length + 3) & ~3 }
