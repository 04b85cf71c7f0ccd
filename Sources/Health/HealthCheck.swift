// One configured check, ready to run: turns a CheckConfig (Config module) into the DNS, TCP or exec check
// and runs it once, bounded by its timeout. CheckScheduler runs it on a worker on every tick; tools may call it directly.
import Config
import NetAddress

/// A check from the configuration, resolved (the DNS server defaulted) and ready to run.
public struct HealthCheck: Sendable {
    /// The configuration it was made from; equal configs (and DNS servers) mean the same check.
    public let config: CheckConfig
    private let kind: Kind

    private enum Kind: Sendable {
        case dns(DNSCheck)
        case tcp(TCPCheck)
        case exec(ExecCheck)
    }

    /// `defaultDNSServer` is asked when a DNS check names no server: the caller passes the service's first
    /// prefix, so the check asks the very address that is announced.
    public init(config: CheckConfig, defaultDNSServer: IPAddress?) {
        self.config = config
        switch config.kind {
        case .dns(let server, let port, let name, let type, let rcodes):
            kind = .dns(
                DNSCheck(server: server ?? defaultDNSServer, port: port, name: name, type: type, rcodes: rcodes))
        case .tcp(let address, let port):
            kind = .tcp(TCPCheck(address: address, port: port))
        case .exec(let command):
            kind = .exec(ExecCheck(command: command))
        }
    }

    /// What the check does, for status and logs: "dns 192.0.2.53:53 id.lab. TXT", "tcp 127.0.0.1:80",
    /// "exec /usr/local/bin/check-db --quick".
    public var description: String {
        switch kind {
        case .dns(let check): check.description
        case .tcp(let check): check.description
        case .exec(let check): check.description
        }
    }

    /// The server a DNS check asks, after defaulting; nil for other kinds.
    public var dnsServer: IPAddress? {
        if case .dns(let check) = kind { return check.server }
        return nil
    }

    /// Runs the check once, blocking the calling thread for at most the configured timeout (plus the time to
    /// kill and reap an exec check's process group).
    public func run() -> CheckResult { run(cancel: nil) }

    func run(cancel: CancelSignal?) -> CheckResult {
        let start = monotonicNanos()
        let timeout = max(config.timeout.nanoseconds, 1_000_000)
        let (success, detail) =
            switch kind {
            case .dns(let check): check.run(timeout: timeout, cancel: cancel)
            case .tcp(let check): check.run(timeout: timeout, cancel: cancel)
            case .exec(let check): check.run(timeout: timeout, cancel: cancel)
            }
        return CheckResult(success: success, detail: detail, duration: .nanoseconds(monotonicNanos() - start))
    }
}
