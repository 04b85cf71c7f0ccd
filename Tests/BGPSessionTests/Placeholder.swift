import BGPSession
import Testing

@Test func bgpsessionBuilds() {}
