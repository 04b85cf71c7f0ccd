// Prometheus text exposition (format 0.0.4) of the status snapshot: the same model `anycastd status`
// prints, so metrics and status never disagree. Pure; MetricsServer serves it over HTTP.

import BFD
import BGP

extension StatusSnapshot {
    /// Every metric with its HELP and TYPE lines; one family per metric name, labels escaped.
    public func prometheus() -> String {
        var out = PrometheusWriter()
        out.family("anycastd_build_info", .gauge, "The running version (always 1).")
        out.sample("anycastd_build_info", ["version": version], 1)
        out.family(
            "anycastd_config_valid", .gauge,
            "1 when the last load of the configuration file succeeded; 0 means the last good state is still applied.")
        out.sample("anycastd_config_valid", [:], config.valid ? 1 : 0)
        out.family("anycastd_config_errors", .gauge, "Errors found in the last load of the configuration file.")
        out.sample("anycastd_config_errors", [:], Double(config.errors.count))
        out.family("anycastd_interface_up", .gauge, "1 when the anycast interface exists and is up.")
        out.sample("anycastd_interface_up", ["interface": interface.name], interface.present && interface.up ? 1 : 0)
        out.family("anycastd_host_drained", .gauge, "1 while the whole host is drained (anycastd drain).")
        out.sample("anycastd_host_drained", [:], hostDrained ? 1 : 0)
        out.family(
            "anycastd_state_persisted", .gauge,
            "1 when the state directory holds the drains in effect; 0 after a failed save or an unreadable drain file (a restart would not restore them)."
        )
        out.sample("anycastd_state_persisted", [:], statePersisted ? 1 : 0)
        out.family("anycastd_stopping", .gauge, "1 once a graceful stop has begun.")
        out.sample("anycastd_stopping", [:], stopping ? 1 : 0)

        out.family("anycastd_bgp_peer_up", .gauge, "1 when the BGP session is Established.")
        for peer in peers {
            out.sample("anycastd_bgp_peer_up", peer.labels, peer.state == .established ? 1 : 0)
        }
        out.family("anycastd_bgp_peer_state", .gauge, "1 for the session's current RFC 4271 state, 0 for the others.")
        for peer in peers {
            for state in SessionState.allCases {
                out.sample(
                    "anycastd_bgp_peer_state", peer.labels.merging(["state": state.rawValue]) { a, _ in a },
                    peer.state == state ? 1 : 0)
            }
        }
        out.family("anycastd_bfd_up", .gauge, "1 while the peer's BFD session is Up (peers with bfd set only).")
        for peer in peers {
            guard let bfd = peer.bfd else { continue }
            out.sample("anycastd_bfd_up", peer.labels, bfd == .up ? 1 : 0)
        }
        out.family(
            "anycastd_bgp_peer_state_change_timestamp_seconds", .gauge,
            "When the session last changed state (seconds since the Unix epoch).")
        for peer in peers {
            guard let since = peer.since else { continue }
            out.sample("anycastd_bgp_peer_state_change_timestamp_seconds", peer.labels, since.rounded())
        }
        out.family("anycastd_bgp_peer_established_total", .counter, "Times the session reached Established.")
        for peer in peers {
            out.sample("anycastd_bgp_peer_established_total", peer.labels, Double(peer.establishedCount))
        }
        out.family("anycastd_bgp_peer_prefixes_announced", .gauge, "Prefixes the peer has from us now.")
        for peer in peers {
            out.sample("anycastd_bgp_peer_prefixes_announced", peer.labels, Double(peer.prefixesSent))
        }
        out.family(
            "anycastd_bgp_peer_prefixes_received", .gauge, "Prefixes the peer announces to us (counted, never used).")
        for peer in peers {
            out.sample("anycastd_bgp_peer_prefixes_received", peer.labels, Double(peer.prefixesReceived))
        }
        out.family(
            "anycastd_bgp_peer_treat_as_withdraw_total", .counter,
            "UPDATEs from the peer treated as withdraw (RFC 7606): malformed attributes, routes dropped.")
        for peer in peers {
            out.sample("anycastd_bgp_peer_treat_as_withdraw_total", peer.labels, Double(peer.treatAsWithdraw))
        }
        for (direction, pick) in [("sent", \PeerReport.messagesSent), ("received", \PeerReport.messagesReceived)] {
            let name = "anycastd_bgp_peer_messages_\(direction)_total"
            out.family(name, .counter, "BGP messages \(direction), all types.")
            for peer in peers { out.sample(name, peer.labels, Double(peer[keyPath: pick])) }
        }
        for (direction, pick) in [("sent", \PeerReport.updatesSent), ("received", \PeerReport.updatesReceived)] {
            let name = "anycastd_bgp_peer_updates_\(direction)_total"
            out.family(name, .counter, "BGP UPDATE messages \(direction).")
            for peer in peers { out.sample(name, peer.labels, Double(peer[keyPath: pick])) }
        }

        out.family("anycastd_service_healthy", .gauge, "1 when every health check of the service is up.")
        for service in services {
            out.sample("anycastd_service_healthy", ["service": service.name], service.healthy ? 1 : 0)
        }
        out.family("anycastd_service_drained", .gauge, "1 while the service (or the whole host) is drained.")
        for service in services {
            out.sample("anycastd_service_drained", ["service": service.name], service.drained ? 1 : 0)
        }
        let policyGauges: [(String, String, (ServiceReport) -> Double)] = [
            (
                "anycastd_service_degraded",
                "1 while the service is announced degraded (a degrade check failing, or kept as last resort).",
                { $0.degraded ? 1 : 0 }
            ),
            (
                "anycastd_service_suppressed", "1 while flap dampening holds the service withdrawn.",
                { $0.suppressed ? 1 : 0 }
            ),
            ("anycastd_service_penalty", "The service's flap-dampening penalty now.", { $0.penalty }),
            (
                "anycastd_service_last_resort",
                "1 while the service is announced only as the last resort (its checks fail, no other path).",
                { $0.lastResort ? 1 : 0 }
            ),
        ]
        for (name, help, value) in policyGauges {
            out.family(name, .gauge, help)
            for service in services { out.sample(name, ["service": service.name], value(service)) }
        }
        out.family("anycastd_check_up", .gauge, "1 when the health check is up (after rise successes).")
        for service in services {
            for check in service.checks {
                out.sample("anycastd_check_up", ["service": service.name, "check": check.check], check.up ? 1 : 0)
            }
        }
        out.family("anycastd_check_runs_total", .counter, "Health check runs since the check started or changed.")
        for service in services {
            for check in service.checks {
                out.sample(
                    "anycastd_check_runs_total", ["service": service.name, "check": check.check], Double(check.runs))
            }
        }
        out.family(
            "anycastd_check_failures_total", .counter, "Failed health check runs since the check started or changed.")
        for service in services {
            for check in service.checks {
                out.sample(
                    "anycastd_check_failures_total", ["service": service.name, "check": check.check],
                    Double(check.failuresTotal))
            }
        }
        out.family("anycastd_check_duration_seconds", .histogram, "How long health check runs took.")
        for service in services {
            for check in service.checks {
                let labels = ["service": service.name, "check": check.check]
                for bucket in check.durationBuckets {
                    out.sample(
                        "anycastd_check_duration_seconds_bucket",
                        labels.merging(["le": PrometheusWriter.format(bucket.le)]) { $1 }, Double(bucket.count))
                }
                out.sample(
                    "anycastd_check_duration_seconds_bucket", labels.merging(["le": "+Inf"]) { $1 }, Double(check.runs))
                out.sample("anycastd_check_duration_seconds_sum", labels, check.durationSumSeconds)
                out.sample("anycastd_check_duration_seconds_count", labels, Double(check.runs))
            }
        }
        out.family("anycastd_prefix_address_present", .gauge, "1 when the prefix's address is on the interface.")
        for service in services {
            for prefix in service.prefixes {
                out.sample(
                    "anycastd_prefix_address_present", ["service": service.name, "prefix": prefix.prefix],
                    prefix.addressPresent ? 1 : 0)
            }
        }
        out.family("anycastd_prefix_announced_peers", .gauge, "Established peers the prefix is announced to now.")
        for service in services {
            for prefix in service.prefixes {
                out.sample(
                    "anycastd_prefix_announced_peers", ["service": service.name, "prefix": prefix.prefix],
                    Double(prefix.announcedTo.count))
            }
        }
        out.family(
            "anycastd_prefix_graceful_shutdown", .gauge,
            "1 while the prefix is announced with GRACEFUL_SHUTDOWN (draining).")
        for service in services {
            for prefix in service.prefixes {
                out.sample(
                    "anycastd_prefix_graceful_shutdown", ["service": service.name, "prefix": prefix.prefix],
                    prefix.gracefulShutdown ? 1 : 0)
            }
        }
        return out.text
    }
}

extension PeerReport {
    fileprivate var labels: [String: String] { ["peer": name, "address": address] }
}

/// Builds the exposition text.
struct PrometheusWriter {
    enum Kind: String {
        case gauge, counter, histogram
    }

    private(set) var text = ""

    mutating func family(_ name: String, _ kind: Kind, _ help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
    }

    /// One sample; labels are written sorted by name so that the output is stable.
    mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
        text += name
        if !labels.isEmpty {
            let pairs = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(Self.escapeLabel($0.value))\"" }
            text += "{" + pairs.joined(separator: ",") + "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// Label values escape backslash, double quote and line feed.
    static func escapeLabel(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// HELP text escapes backslash and line feed.
    static func escapeHelp(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
