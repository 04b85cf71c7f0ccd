import Config
import Testing

@Test func configBuilds() {}
