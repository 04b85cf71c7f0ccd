# A DNS client for the planned-stop benchmark: one query for id.lab TXT every INTERVAL ms, each from a new
# UDP socket (a new source port, so the router's L4 ECMP hash spreads them over the hosts), answered or
# lost after TIMEOUT ms. Runs until the file STOP exists (checked every query) or for at most SECONDS, then
# waits for the last answers and prints "sent=N answered=N lost=N" and the answers per host (the last two bytes of
# the TXT string, such as h1 and h2).
# With LOST_FILE, the send time (epoch seconds) of each lost query is written there, one a line.
# Usage: dns-client.py SERVER INTERVAL_MS TIMEOUT_MS STOP_FILE SECONDS [LOST_FILE]
import os
import random
import select
import socket
import struct
import sys
import time

server, interval, timeout = sys.argv[1], float(sys.argv[2]) / 1000, float(sys.argv[3]) / 1000
stop_file, limit = sys.argv[4], time.monotonic() + float(sys.argv[5])
lost_file = open(sys.argv[6], "w") if len(sys.argv) > 6 else None
query_name = b"".join(bytes([len(label)]) + label for label in b"id.lab".split(b".")) + b"\x00"
pending = {}  # socket -> (deadline, query id, epoch seconds sent)
sent = answered = lost = 0
served = {}


def query():
    global sent
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    ident = random.randrange(65536)
    try:
        sock.connect((server, 53))
        sock.send(struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + query_name + struct.pack(">HH", 16, 1))
    except OSError:
        pass  # unreachable: counted as lost when its time is up
    pending[sock] = (time.monotonic() + timeout, ident, time.time())
    sent += 1


def collect(until):
    global answered, lost
    while True:
        now = time.monotonic()
        for sock, (deadline, _, sent_at) in list(pending.items()):
            if deadline <= now:
                lost += 1
                if lost_file:
                    lost_file.write("%.3f\n" % sent_at)
                del pending[sock]
                sock.close()
        wait = until - now
        if wait <= 0 or not pending:
            if wait > 0:
                time.sleep(wait)
            return
        ready, _, _ = select.select(list(pending), [], [], wait)
        for sock in ready:
            try:
                data = sock.recv(512)
            except OSError:
                continue  # ICMP port unreachable: the host's server is gone; lost when its time is up
            if len(data) > 12 and struct.unpack(">H", data[:2])[0] == pending[sock][1]:
                answered += 1
                # The TXT string is the answer's last bytes; the hosts answer with their names.
                host = data[-2:].decode(errors="replace")
                served[host] = served.get(host, 0) + 1
                del pending[sock]
                sock.close()


next_send = time.monotonic()
while not os.path.exists(stop_file) and time.monotonic() < limit:
    query()
    next_send += interval
    collect(next_send)
collect(time.monotonic() + timeout + 0.01)
lost += len(pending)
for _, _, sent_at in pending.values():
    if lost_file:
        lost_file.write("%.3f\n" % sent_at)
print("sent=%d answered=%d lost=%d %s" % (sent, answered, lost, " ".join("%s=%d" % kv for kv in sorted(served.items()))))
