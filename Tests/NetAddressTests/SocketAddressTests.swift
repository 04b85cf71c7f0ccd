// IPAddress to and from the C socket address forms, and "ip:port" text.
import NetAddress
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SocketAddressTests {
    @Test(arguments: ["192.0.2.53", "2001:db8::53", "::ffff:192.0.2.1", "0.0.0.0", "::"])
    func roundTripThroughSockaddr(text: String) {
        let address = IPAddress(text)!
        let (back, port, length) = address.withSocketAddress(port: 3784) { pointer, length in
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: Int(length)))
            }
            let port = withUnsafeBytes(of: &storage) { raw in
                UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
            }
            return (IPAddress(socketAddress: storage), port, length)
        }
        #expect(back == address)
        #expect(port == 3784)
        #expect(
            Int(length) == (address.family == .ipv4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size))
    }

    @Test func otherFamiliesAreNotAddresses() {
        var storage = sockaddr_storage()
        storage.ss_family = sa_family_t(AF_UNIX)
        #expect(IPAddress(socketAddress: storage) == nil)
    }

    @Test func endpointText() {
        #expect(IPAddress("192.0.2.1")!.endpoint(port: 53) == "192.0.2.1:53")
        #expect(IPAddress("2001:db8::1")!.endpoint(port: 3784) == "[2001:db8::1]:3784")
    }
}
