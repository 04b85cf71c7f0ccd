# Counts BGP messages by type in a pcap of one direction of one or more TCP sessions (Ethernet, IPv4,
# TCP). Reassembles each TCP stream by sequence number, so messages split across segments count too.
# Usage: bgp-count.py FILE.pcap -> "updates=N keepalives=N opens=N notifications=N wire_ms=F first_ms=N"
# (wire_ms: first to last segment carrying more than a KEEPALIVE; first_ms: epoch ms of the first)
import struct
import sys

data = open(sys.argv[1], "rb").read()
magic = struct.unpack("<I", data[:4])[0]
endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
offset = 24
streams = {}
stamps = []
while offset + 16 <= len(data):
    sec, usec, caplen, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
    frame = data[offset + 16:offset + 16 + caplen]
    offset += 16 + caplen
    if len(frame) < 14 or frame[12:14] != b"\x08\x00":
        continue
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack(">H", ip[2:4])[0]
    if ip[9] != 6:
        continue
    tcp = ip[ihl:total]
    sport, dport, seq = struct.unpack(">HHI", tcp[:8])
    payload = tcp[(tcp[12] >> 4) * 4:]
    if len(payload) > 19:  # more than a KEEPALIVE: the routes being sent
        stamps.append(sec + usec / 1e6)
    if payload:
        streams.setdefault((ip[12:16], sport, ip[16:20], dport), {})[seq] = payload
counts = {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
for segments in streams.values():
    stream = b""
    expected = None
    for seq in sorted(segments):
        if expected is not None and seq < expected:
            continue  # retransmission
        stream += segments[seq]
        expected = seq + len(segments[seq])
    position = 0
    while position + 19 <= len(stream):
        length = struct.unpack(">H", stream[position + 16:position + 18])[0]
        if length < 19:
            break
        counts[stream[position + 18]] = counts.get(stream[position + 18], 0) + 1
        position += length
span = (max(stamps) - min(stamps)) * 1000 if stamps else 0
first = int(min(stamps) * 1000) if stamps else 0
print("updates=%d keepalives=%d opens=%d notifications=%d wire_ms=%.1f first_ms=%d" % (counts[2], counts[4], counts[1], counts[3], span, first))
