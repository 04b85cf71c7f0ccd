import Daemon
import Testing

@Test func daemonBuilds() {}
