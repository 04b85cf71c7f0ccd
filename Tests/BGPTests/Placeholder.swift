import BGP
import Testing

@Test func bgpBuilds() {}
