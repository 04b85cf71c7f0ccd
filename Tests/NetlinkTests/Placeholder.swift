import Netlink
import Testing

@Test func netlinkBuilds() {}
