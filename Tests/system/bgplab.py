#!/usr/bin/env python3
# Timing tools for the BGP system tests and the demo (sourced through Tests/system/lib-bgp.sh):
#   query-loop  sends a DNS TXT query every few milliseconds from a fresh socket (so each has its own
#               source port, and the router's L4 hash spreads them) and logs every answer or timeout;
#   watch-bird  polls BIRD's control socket directly (no birdc fork per poll) until a path condition
#               holds and prints the wall-clock instant it was first seen, so the shell can measure
#               "from the kill to the path gone" without counting a process start in the figure.
# Standard library only: it runs in the kernel lab's chroot with whatever python3 the host has.
import argparse
import random
import re
import selectors
import signal
import socket
import struct
import sys
import time


def dns_query(qid, name, qtype=16):
    """A recursion-desired query for NAME/TXT (RFC 1035 4.1)."""
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    return header + labels + struct.pack("!HH", qtype, 1)


def dns_answer(packet, qid):
    """The first TXT string of a reply to QID, 'rcode:N' for an error reply, None if it is not ours."""
    if len(packet) < 12:
        return None
    rid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", packet[:12])
    if rid != qid or not flags & 0x8000:
        return None
    if flags & 0xF:
        return "rcode:%d" % (flags & 0xF)
    pos = 12
    for _ in range(qd):
        pos = skip_name(packet, pos) + 4
    for _ in range(an):
        pos = skip_name(packet, pos)
        rtype, _, _, rdlen = struct.unpack("!HHIH", packet[pos : pos + 10])
        pos += 10
        if rtype == 16 and rdlen > 0:
            length = packet[pos]
            return packet[pos + 1 : pos + 1 + length].decode(errors="replace")
        pos += rdlen
    return "empty"


def skip_name(packet, pos):
    while True:
        length = packet[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length


def query_loop(args):
    """Writes one line per query: SEQ SENT_US RESULT RTT_US (RESULT: the TXT string, timeout, rcode:N)."""
    stop = False

    def on_term(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    out = open(args.out, "w", buffering=1)
    sel = selectors.DefaultSelector()
    pending = {}  # socket -> (seq, qid, sent monotonic, sent wall)
    interval = args.interval_ms / 1000.0
    timeout = args.timeout_ms / 1000.0
    seq = 0
    next_send = time.monotonic()
    out.write("# started %d\n" % int(time.time() * 1e6))
    while not stop or pending:
        now = time.monotonic()
        if not stop and now >= next_send:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            qid = random.randrange(65536)
            try:
                sock.sendto(dns_query(qid, args.name), (args.server, 53))
                pending[sock] = (seq, qid, now, time.time())
                sel.register(sock, selectors.EVENT_READ)
            except OSError as error:
                out.write("%d %d error:%s 0\n" % (seq, int(time.time() * 1e6), error.errno))
                sock.close()
            seq += 1
            next_send += interval
            if next_send < now - interval:  # fell far behind (a loaded VM): do not burst to catch up
                next_send = now + interval
        deadline = next_send if not stop else now + 0.05
        for sock, (s, qid, sent, _) in pending.items():
            deadline = min(deadline, sent + timeout)
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            sock = key.fileobj
            s, qid, sent, wall = pending[sock]
            try:
                data = sock.recv(4096)
            except OSError as error:
                result = "error:%s" % error.errno  # e.g. ICMP port unreachable
            else:
                result = dns_answer(data, qid)
                if result is None:
                    continue
            out.write("%d %d %s %d\n" % (s, int(wall * 1e6), result, int((time.monotonic() - sent) * 1e6)))
            sel.unregister(sock)
            sock.close()
            del pending[sock]
        now = time.monotonic()
        for sock in [k for k, v in pending.items() if now - v[2] >= timeout]:
            s, _, _, wall = pending.pop(sock)
            out.write("%d %d timeout %d\n" % (s, int(wall * 1e6), int(timeout * 1e6)))
            sel.unregister(sock)
            sock.close()
    out.write("# stopped %d sent %d\n" % (int(time.time() * 1e6), seq))
    out.close()


class Bird:
    """A connection to BIRD's control socket (the protocol birdc speaks: 4-digit reply codes)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.reply()  # 0001 BIRD x.y.z ready.

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("BIRD closed its control socket")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def reply(self):
        """Text lines of one reply, codes stripped, until a final line (code and a space)."""
        lines = []
        while True:
            line = self.line()
            m = re.match(r"^(\d{4})([ -])(.*)$", line)
            if m is None:  # continuation: a leading space, same code as before
                lines.append(line[1:])
                continue
            lines.append(m.group(3))
            if m.group(2) == " " and (m.group(1) in ("0000", "0001") or m.group(1)[0] in "89"):
                return lines

    def command(self, text):
        self.sock.sendall(text.encode() + b"\n")
        return self.reply()


def parse_paths(lines):
    """{protocol: (local_pref, communities)} from `show route for P all` text."""
    paths = {}
    current = None
    for line in lines:
        m = re.search(r"\bunicast \[(\S+) ", line)
        if m:
            current = m.group(1)
            paths[current] = ["-", "-"]
            continue
        if current is None:
            continue
        m = re.search(r"BGP\.local_pref: (\d+)", line)
        if m:
            paths[current][0] = m.group(1)
        m = re.search(r"BGP\.community: (.*)$", line)
        if m:
            paths[current][1] = m.group(1).replace(" ", "")
    return paths


def condition_holds(paths, condition):
    kind, _, proto = condition.partition(":")
    if kind == "present":
        return proto in paths and "(65535,0)" not in paths[proto][1]
    if kind == "absent":
        return proto not in paths
    if kind == "graceful":
        return proto in paths and "(65535,0)" in paths[proto][1] and paths[proto][0] == "0"
    if kind == "never":  # record changes until killed
        return False
    raise SystemExit("watch-bird: unknown condition %r (present:P, absent:P, graceful:P, never:)" % condition)


def watch_bird(args):
    """Prints `ready WALL_US PATHS` after the first poll, `change WALL_US PATHS` whenever the paths
    differ, `mark COND WALL_US` the first time each --mark condition holds, then `met WALL_US POLLS
    PATHS` or `timeout WALL_US POLLS PATHS`. PATHS is PROTOCOL:LOCALPREF:COMMUNITIES ... or none."""
    bird = Bird(args.socket)
    command = "show route for %s all" % args.prefix
    polls = 0
    marks = list(args.mark)
    last = None
    start = time.monotonic()
    while True:
        paths = parse_paths(bird.command(command))
        polls += 1
        wall = int(time.time() * 1e6)
        summary = " ".join("%s:%s:%s" % (p, v[0], v[1]) for p, v in sorted(paths.items())) or "none"
        if polls == 1:
            print("ready %d %s" % (wall, summary), flush=True)
        elif summary != last:
            print("change %d %s" % (wall, summary), flush=True)
        last = summary
        for mark in [m for m in marks if condition_holds(paths, m)]:
            print("mark %s %d" % (mark, wall), flush=True)
            marks.remove(mark)
        if condition_holds(paths, args.until):
            print("met %d %d %s" % (wall, polls, summary), flush=True)
            return 0
        if time.monotonic() - start > args.timeout_ms / 1000.0:
            print("timeout %d %d %s" % (wall, polls, summary), flush=True)
            return 1
        time.sleep(args.interval_ms / 1000.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("query-loop")
    q.add_argument("--server", default="192.0.2.53")
    q.add_argument("--name", default="id.lab")
    q.add_argument("--interval-ms", type=float, default=10)
    q.add_argument("--timeout-ms", type=float, default=1000)
    q.add_argument("--out", required=True)
    w = sub.add_parser("watch-bird")
    w.add_argument("--socket", required=True)
    w.add_argument("--prefix", default="192.0.2.53/32")
    w.add_argument("--until", required=True)
    w.add_argument("--mark", action="append", default=[], help="also report when this condition first holds")
    w.add_argument("--interval-ms", type=float, default=10)
    w.add_argument("--timeout-ms", type=float, default=10000)
    args = parser.parse_args()
    if args.command == "query-loop":
        query_loop(args)
        return 0
    return watch_bird(args)


if __name__ == "__main__":
    sys.exit(main())
