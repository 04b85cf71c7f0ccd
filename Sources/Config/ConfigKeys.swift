// The keys the reader accepts in each object of the desired-state file. The decoders open every object
// with these lists (anything else is an "unknown key" error), and the JSON Schema test compares them
// with packaging/anycastd.schema.json, so the reader, the schema and anycastd.json(5) cannot drift apart.

/// The keys accepted in each object of the desired-state file.
public enum ConfigKeys {
    public static let root = [
        "$schema", "interface", "bgp", "services", "drain", "control", "metrics", "stateDirectory",
    ]
    public static let interface = ["name", "kind", "uplinks", "sysctl"]
    public static let sysctl = ["arpIgnore", "arpAnnounce", "rpFilter", "setAll"]
    public static let bgp = ["asn", "routerId", "holdTime", "peers", "gracefulRestart"]
    public static let peer = [
        "name", "address", "asn", "localAddress", "passive", "multihop", "ttlSecurity", "passwordFile", "holdTime",
        "families", "nextHop", "asPathPrepend", "med", "communities", "largeCommunities", "port", "bfd",
        "maxPrefixes", "gracefulRestart",
    ]
    public static let gracefulRestart = ["restartTime"]
    public static let nextHop = ["ipv4", "ipv6"]
    public static let bfd = ["minInterval", "multiplier", "authentication"]
    public static let bfdAuthentication = ["type", "keyId", "keyFile"]
    public static let service = ["name", "prefixes", "peers", "checks", "communities", "largeCommunities", "med"]
    /// The kinds of check; a check object holds exactly one of them.
    public static let checkKinds = ["dns", "tcp", "exec"]
    public static let check = checkKinds + ["interval", "timeout", "rise", "fall"]
    public static let dnsCheck = ["server", "port", "name", "type", "rcodes"]
    public static let tcpCheck = ["address", "port"]
    public static let execCheck = ["command"]
    public static let drain = ["delay", "gracefulShutdown"]
    public static let control = ["socket"]
    public static let metrics = ["listen"]

    /// Every object by its place in the file, written as a JSON path with `[]` for "each element":
    /// `""` is the top level, `"bgp.peers[]"` each peer, `"services[].checks[].dns"` a DNS check.
    public static let byPath: [String: [String]] = [
        "": root,
        "interface": interface,
        "interface.sysctl": sysctl,
        "bgp": bgp,
        "bgp.peers[]": peer,
        "bgp.peers[].nextHop": nextHop,
        "bgp.peers[].bfd": bfd,
        "bgp.gracefulRestart": gracefulRestart,
        "bgp.peers[].gracefulRestart": gracefulRestart,
        "bgp.peers[].bfd.authentication": bfdAuthentication,
        "services[]": service,
        "services[].checks[]": check,
        "services[].checks[].dns": dnsCheck,
        "services[].checks[].tcp": tcpCheck,
        "services[].checks[].exec": execCheck,
        "drain": drain,
        "control": control,
        "metrics": metrics,
    ]
}
