import Dispatch

// Unix signals as an async sequence: SIGHUP reloads, SIGTERM and SIGINT stop gracefully (a second one
// stops at once). Signals are blocked from their default action and delivered through Dispatch.
// Dispatch stays (rather than a signalfd on a PollThread): signalfd needs the signals blocked in every
// thread before any thread starts, but ArgumentParser's async main already runs on Swift's concurrency
// threads, and one thread left unblocked would take SIGTERM's default action and skip the graceful stop.
#if canImport(Glibc)
    import Glibc
#endif

/// The signals anycastd acts on.
public enum DaemonSignal: Sendable, Equatable {
    case reload
    case stop
}

/// Delivers SIGHUP, SIGTERM and SIGINT as `DaemonSignal`s.
public enum SignalSource {
    public static func signals() -> AsyncStream<DaemonSignal> {
        let (stream, continuation) = AsyncStream.makeStream(of: DaemonSignal.self)
        let queue = DispatchQueue(label: "anycastd.signals")
        let pairs: [(Int32, DaemonSignal)] = [(SIGHUP, .reload), (SIGTERM, .stop), (SIGINT, .stop)]
        let sources = Sources()
        for (number, meaning) in pairs {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { continuation.yield(meaning) }
            source.resume()
            sources.list.append(source)
        }
        continuation.onTermination = { _ in sources.cancel() }
        return stream
    }
}

/// Keeps the dispatch sources alive for as long as the stream is iterated; only touched on setup and teardown.
private final class Sources: @unchecked Sendable {
    var list: [any DispatchSourceSignal] = []
    func cancel() {
        for source in list { source.cancel() }
    }
}
