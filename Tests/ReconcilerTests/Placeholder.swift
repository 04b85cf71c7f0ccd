import Reconciler
import Testing

@Test func reconcilerBuilds() {}
