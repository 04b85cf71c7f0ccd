import Health
import Testing

@Test func healthBuilds() {}
