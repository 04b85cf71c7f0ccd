#!/usr/bin/python3
"""Misbehaving clients for Tests/interop/harden-clients.sh; each mode prints one line of key=value facts.

  pipeline HOST PORT COUNT WAIT   COUNT pipelined GET /metrics, never reading; waits up to WAIT s for the
                                  server to close the connection.
  idle HOST PORT COUNT HOLD       opens COUNT connections that send nothing; after HOLD s reports how many
                                  the server had closed.
  unix-idle PATH COUNT HOLD       the same on a Unix socket (the control socket).
  unknown PATH COUNT              COUNT undrain requests, one unknown name each; reports the answers.
"""
import json
import select
import socket
import sys
import time


def closed_by_peer(sock):
    """True when the peer closed (FIN or RST), without reading what it sent."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return any(ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR) for _, ev in poller.poll(0))


def pipeline(host, port, count, wait):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    unit = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    data = unit * int(count)
    sock.setblocking(False)
    sent, start = 0, time.monotonic()
    while sent < len(data) and time.monotonic() - start < float(wait):
        try:
            sent += sock.send(data[sent:sent + 65536])
        except BlockingIOError:
            select.select([], [sock], [], 0.2)
        except OSError:
            break
    deadline = start + float(wait)
    while not closed_by_peer(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    closed = closed_by_peer(sock)
    print(f"requests_sent={sent // len(unit)} closed={int(closed)} seconds={time.monotonic() - start:.1f}", flush=True)


def idle(family, address, count, hold):
    socks, failed = [], 0
    for _ in range(int(count)):
        sock = socket.socket(family, socket.SOCK_STREAM)
        # A Unix connect with a full backlog fails at once when non-blocking: block instead, as TCP retries.
        sock.settimeout(None if family == socket.AF_UNIX else 2)
        try:
            sock.connect(address)
            socks.append(sock)
        except OSError:
            failed += 1
            sock.close()
    opened = time.monotonic()
    # Those refused at once are closed within a second.
    time.sleep(1)
    early = sum(closed_by_peer(s) for s in socks)
    print(f"opened={len(socks)} connect_failed={failed} closed_within_1s={early}", flush=True)
    time.sleep(max(0, float(hold) - (time.monotonic() - opened)))
    late = sum(closed_by_peer(s) for s in socks)
    print(f"closed_within_{hold}s={late}", flush=True)
    for s in socks:
        s.close()


def unknown(path, count):
    errors, oks, other = 0, 0, 0
    for index in range(int(count)):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(json.dumps({"command": "undrain", "services": [f"nosuch{index}"]}).encode() + b"\n")
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        sock.close()
        try:
            reply = json.loads(answer)
        except ValueError:
            other += 1
            continue
        if reply.get("ok"):
            oks += 1
        elif "unknown service" in reply.get("message", ""):
            errors += 1
        else:
            other += 1
    print(f"errors={errors} ok={oks} other={other}", flush=True)


mode = sys.argv[1]
if mode == "pipeline":
    pipeline(*sys.argv[2:6])
elif mode == "idle":
    idle(socket.AF_INET, (sys.argv[2], int(sys.argv[3])), sys.argv[4], sys.argv[5])
elif mode == "unix-idle":
    idle(socket.AF_UNIX, sys.argv[2], sys.argv[3], sys.argv[4])
elif mode == "unknown":
    unknown(sys.argv[2], sys.argv[3])
else:
    sys.exit(f"unknown mode {mode}")
