// Turns an errno from the kernel (and its extended-ack text) into a NetlinkError an operator can act
// on: which operation failed, what the errno means for it, and what to do.
import Glibc

extension NetlinkError {
    /// A failure of `operation`, explained for that kind of operation.
    init(_ operation: NetlinkOperation, errno: Int32, kernelMessage: String? = nil) {
        self.init(
            operation: operation.description, errno: errno,
            message: Self.explain(errno: errno, for: operation, kernelMessage: kernelMessage))
    }

    /// A failure of something that is not one of the planned operations (opening, dumping).
    init(context: String, errno: Int32, kernelMessage: String? = nil) {
        self.init(
            operation: context, errno: errno,
            message: Self.explain(errno: errno, for: nil, kernelMessage: kernelMessage))
    }

    /// The errno in words; the kernel's extended-ack text follows in parentheses when it adds something.
    static func explain(errno: Int32, for operation: NetlinkOperation?, kernelMessage: String?) -> String {
        var words: String
        switch (errno, operation) {
        case (EPERM, _), (EACCES, _):
            words = "needs CAP_NET_ADMIN (run as root or grant the capability)"
        case (EOPNOTSUPP, .createDummy?):
            words = "kernel has no dummy link type (load module \"dummy\")"
        case (EAFNOSUPPORT, .setAddrGenModeNone?), (EAFNOSUPPORT, .createDummy?):
            words = "IPv6 is disabled on this host (ipv6.disable=1), so there is no addrgenmode to set"
        case (EEXIST, .createDummy(let name)?):
            words = "interface \(name) already exists"
        case (EEXIST, _):
            words = "already exists"
        case (ENODEV, _):
            words = "no such interface"
        case (EADDRNOTAVAIL, .deleteAddress?):
            words = "address not present"
        case (ENOBUFS, _):
            words = "netlink socket receive buffer overran; the outcome is unknown until the next full resync"
        default:
            words = String(cString: strerror(errno))
        }
        if let kernelMessage, !kernelMessage.isEmpty, words != kernelMessage {
            words += " (kernel: \(kernelMessage))"
        }
        return words
    }
}
