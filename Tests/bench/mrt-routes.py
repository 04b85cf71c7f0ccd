# Writes an MRT TABLE_DUMP_V2 file (RFC 6396) with one RIB entry per IPv4 prefix, for
# `gobgp mrt inject global`, the fastest way to hand GoBGP many routes (one gRPC AddPathStream).
# Attributes as the other speakers send them: ORIGIN IGP, empty AS_PATH (GoBGP prepends its AS towards an
# eBGP peer), NEXT_HOP, one community.
# Usage: mrt-routes.py ROUTES_FILE NEXT_HOP PEER_AS COMMUNITY > FILE.mrt
import ipaddress
import struct
import sys

routes_file, next_hop, peer_as, community = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
nh = ipaddress.IPv4Address(next_hop).packed
high, low = (int(x) for x in community.split(":"))
out = sys.stdout.buffer


def record(subtype, body):
    out.write(struct.pack(">IHHI", 0, 13, subtype, len(body)) + body)


# PEER_INDEX_TABLE: collector id, empty view name, one peer (IPv4 address, 4-octet AS).
record(1, nh + struct.pack(">HH", 0, 1) + struct.pack(">B", 0x02) + nh + nh + struct.pack(">I", peer_as))
attributes = (
    struct.pack(">BBBB", 0x40, 1, 1, 0)  # ORIGIN IGP
    + struct.pack(">BBB", 0x40, 2, 0)  # AS_PATH, empty
    + struct.pack(">BBB", 0x40, 3, 4) + nh  # NEXT_HOP
    + struct.pack(">BBBHH", 0xC0, 8, 4, high, low)  # COMMUNITIES
)
with open(routes_file) as routes:
    for sequence, line in enumerate(routes):
        network = ipaddress.IPv4Network(line.strip())
        length = network.prefixlen
        prefix = network.network_address.packed[: (length + 7) // 8]
        entry = struct.pack(">HIH", 0, 0, len(attributes)) + attributes
        record(2, struct.pack(">IB", sequence, length) + prefix + struct.pack(">H", 1) + entry)
