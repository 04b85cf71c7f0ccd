# Turns what a BGP peer shows into one canonical line per route, so tests compare the same text
# whichever peer they ask:
#   PREFIX nh=NEXTHOP ll=LINKLOCAL|- path=AS,AS med=N|- comm=A:B,...|- lcomm=A:B:C,...|- from=NEIGHBOR
# Usage: routes.py bird|frr|gobgp|exabgp < what the peer printed. Unknown shapes raise, never guess.
import json
import re
import sys


def line(prefix, nh, path, med, comm, lcomm, source, ll=None):
    return "%s nh=%s ll=%s path=%s med=%s comm=%s lcomm=%s from=%s" % (
        prefix,
        nh or "-",
        ll or "-",
        ",".join(str(a) for a in path) or "-",
        "-" if med is None else med,
        ",".join(sorted(comm)) or "-",
        ",".join(sorted(lcomm)) or "-",
        source or "-",
    )


def bird(text):
    # `birdc show route all`: a route header line, then indented attribute lines.
    out, cur = [], None
    prefix = None

    def flush():
        if cur is not None:
            out.append(line(cur["prefix"], cur["nh"], cur["path"], cur["med"], cur["comm"], cur["lcomm"], cur["from"],
                            cur["ll"]))

    for raw in text.splitlines():
        m = re.match(r"^(\S+/\d+)\s+\S+\s+\[(\S+)\s", raw)
        m2 = re.match(r"^\s+\S+\s+\[(\S+)\s", raw) if not m else None
        if m or (m2 and prefix):
            flush()
            if m:
                prefix = m.group(1)
            cur = {"prefix": prefix, "nh": None, "ll": None, "path": [], "med": None, "comm": [], "lcomm": [],
                   "from": (m or m2).group(m and 2 or 1)}
            continue
        if cur is None:
            continue
        s = raw.strip()
        if s.startswith("BGP.as_path:"):
            cur["path"] = [a for a in s.split(":", 1)[1].split() if a.isdigit()]
        elif s.startswith("BGP.next_hop:"):
            hops = s.split(":", 1)[1].split()
            cur["nh"] = hops[0]
            cur["ll"] = hops[1] if len(hops) > 1 else None
        elif s.startswith("BGP.med:"):
            cur["med"] = int(s.split(":", 1)[1])
        elif s.startswith("BGP.community:"):
            cur["comm"] = ["%s:%s" % p for p in re.findall(r"\((\d+),\s*(\d+)\)", s)]
        elif s.startswith("BGP.large_community:"):
            cur["lcomm"] = ["%s:%s:%s" % p for p in re.findall(r"\((\d+),\s*(\d+),\s*(\d+)\)", s)]
    flush()
    return out


def frr(text):
    # `vtysh -c 'show bgp ipv4 unicast PREFIX json'`: {"prefix": ..., "paths": [...]}
    if not text.strip():
        return []
    data = json.loads(text)
    out = []
    prefix = data.get("prefix")
    for p in data.get("paths", []):
        nh, ll = None, None
        for h in p.get("nexthops", []):
            if h.get("scope", "global") == "global" and nh is None:
                nh = h.get("ip")
            elif h.get("scope") == "link-local" and ll is None:
                ll = h.get("ip")
        path = [a for a in p.get("aspath", {}).get("string", "").split() if a.isdigit()]
        comm = p.get("community", {}).get("string", "").split()
        lcomm = p.get("largeCommunity", {}).get("string", "").split()
        peer = p.get("peer", {}).get("peerId")
        out.append(line(prefix, nh, path, p.get("metric"), comm, lcomm, peer, ll))
    return out


def gobgp(text):
    # `gobgp global rib -a FAMILY -j`: {"PREFIX": [path, ...]}
    if not text.strip():
        return []
    data = json.loads(text)
    out = []
    for prefix, paths in data.items():
        for p in paths:
            nh, ll, path, med, comm, lcomm = None, None, [], None, [], []
            for a in p.get("attrs", []):
                t = a.get("type")
                if t == 2:
                    for seg in a.get("as_paths", []):
                        path += seg.get("asns", [])
                elif t == 3:
                    nh = a.get("nexthop")
                elif t == 14:
                    hops = a.get("nexthops") or []
                    nh = a.get("nexthop") or (hops[0] if hops else None)
                    ll = a.get("linklocal_nexthop") or (hops[1] if len(hops) > 1 else None)
                elif t == 4:
                    med = a.get("metric")
                elif t == 8:
                    comm = ["%d:%d" % (c >> 16, c & 0xFFFF) for c in a.get("communities", [])]
                elif t == 32:
                    lcomm = ["%d:%d:%d" % (c["ASN"], c["LocalData1"], c["LocalData2"])
                             for c in a.get("value", [])]
            out.append(line(prefix, nh, path, med, comm, lcomm, p.get("neighbor-ip") or p.get("source-id"), ll))
    return out


def exabgp(text):
    # ExaBGP's JSON API log: replay announces and withdraws per neighbor; a session going down
    # drops that neighbor's routes, as a router would.
    table = {}
    lines = text.splitlines()
    for index, raw in enumerate(lines):
        raw = raw.strip()
        if not raw.startswith("{"):
            continue
        try:
            msg = json.loads(raw)
        except ValueError:
            if index == len(lines) - 1:
                break  # the line ExaBGP is still writing
            raise
        nb = msg.get("neighbor", {})
        peer = nb.get("address", {}).get("peer")
        if msg.get("type") == "state" and nb.get("state") in ("down", "connected"):
            table.pop(peer, None)
            continue
        if msg.get("type") != "update":
            continue
        upd = nb.get("message", {}).get("update", {})
        attr = upd.get("attribute", {})
        routes = table.setdefault(peer, {})
        for fam, entries in upd.get("withdraw", {}).items():
            for e in entries:
                routes.pop(e["nlri"] if isinstance(e, dict) else e, None)
        for fam, by_nh in upd.get("announce", {}).items():
            # A global plus link-local next hop (RFC 2545) shows as the same NLRI under both addresses.
            hops = {}
            for nh, entries in by_nh.items():
                for e in entries:
                    hops.setdefault(e["nlri"] if isinstance(e, dict) else e, []).append(nh)
            for prefix, nhs in hops.items():
                nh = next((h for h in nhs if not h.lower().startswith("fe80:")), nhs[0])
                ll = next((h for h in nhs if h.lower().startswith("fe80:")), None)
                path = attr.get("as-path", [])
                if isinstance(path, dict):
                    path = [a for seg in path.values() for a in seg.get("value", [])]
                comm = ["%d:%d" % tuple(c) for c in attr.get("community", [])]
                lcomm = ["%d:%d:%d" % tuple(c) for c in attr.get("large-community", [])]
                routes[prefix] = line(prefix, nh, path, attr.get("med"), comm, lcomm, peer, ll)
    return [r for peer in table.values() for r in peer.values()]


def main():
    kind = sys.argv[1]
    text = sys.stdin.read()
    for l in {"bird": bird, "frr": frr, "gobgp": gobgp, "exabgp": exabgp}[kind](text):
        print(l)


main()
