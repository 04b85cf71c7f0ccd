#!/usr/bin/env python3
"""Hostile BGP peers for Tests/interop/harden-bgp.sh (issue 13). Each mode prints one result line.

  listen ADDR SECONDS             count TCP connections made to ADDR:179 (is a passive peer connecting out?)
  open-close SRC DST              connect, wait for the agent's OPEN, close (a close in OpenSent)
  idle SRC DST SECONDS            connect, send nothing; print how long until the agent closed (or "open")
  refresh-flood SRC DST AS ID SECONDS
                                  OPEN, KEEPALIVE, then ROUTE-REFRESH in a loop and a KEEPALIVE every 0.5 s,
                                  never reading; print the number of refreshes sent
  prefix-flood SRC DST AS ID COUNT
                                  OPEN, KEEPALIVE, UPDATEs announcing COUNT /32s, then read until a
                                  NOTIFICATION; print "notification CODE/SUBCODE DATAHEX"; then connect again
                                  at once and print whether the agent sent an OPEN ("reconnect open") or
                                  closed ("reconnect refused")
  connect-flood SRC DST COUNT     COUNT connections opened and closed as fast as possible
"""
import select
import socket
import struct
import sys
import time

MARKER = b"\xff" * 16


def message(kind, body=b""):
    return MARKER + struct.pack(">HB", 19 + len(body), kind) + body


def open_message(asn, hold, ident):
    # Capabilities: MP IPv4 unicast, route refresh, 4-octet AS.
    caps = bytes([1, 4, 0, 1, 0, 1]) + bytes([2, 0]) + bytes([65, 4]) + struct.pack(">I", asn)
    params = bytes([2, len(caps)]) + caps
    my_as = asn if asn <= 0xFFFF else 23456
    return message(1, struct.pack(">BHH", 4, my_as, hold) + socket.inet_aton(ident) + bytes([len(params)]) + params)


KEEPALIVE = message(4)
REFRESH = message(5, struct.pack(">HBB", 1, 0, 1))


def update(asn, prefixes, next_hop):
    attrs = bytes([0x40, 1, 1, 0])  # ORIGIN IGP
    attrs += bytes([0x40, 2, 6, 2, 1]) + struct.pack(">I", asn)  # AS_PATH
    attrs += bytes([0x40, 3, 4]) + socket.inet_aton(next_hop)
    nlri = b"".join(bytes([32]) + struct.pack(">I", p) for p in prefixes)
    return message(2, struct.pack(">H", 0) + struct.pack(">H", len(attrs)) + attrs + nlri)


def connect(src, dst, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect((dst, 179))
    return s


def read_message(s, deadline):
    data = b""
    while len(data) < 19:
        s.settimeout(max(0.01, deadline - time.time()))
        chunk = s.recv(19 - len(data))
        if not chunk:
            return None
        data += chunk
    length = struct.unpack(">H", data[16:18])[0]
    while len(data) < length:
        s.settimeout(max(0.01, deadline - time.time()))
        chunk = s.recv(length - len(data))
        if not chunk:
            return None
        data += chunk
    return data[18], data[19:]


def main():
    mode = sys.argv[1]
    if mode == "listen":
        addr, seconds = sys.argv[2], float(sys.argv[3])
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((addr, 179))
        server.listen(16)
        count = 0
        end = time.time() + seconds
        while time.time() < end:
            ready, _, _ = select.select([server], [], [], max(0, end - time.time()))
            if ready:
                conn, _ = server.accept()
                count += 1
                conn.close()
        print(f"connections {count}")
    elif mode == "open-close":
        s = connect(sys.argv[2], sys.argv[3])
        got = read_message(s, time.time() + 5)
        s.close()
        print("open" if got and got[0] == 1 else f"no-open {got}")
    elif mode == "idle":
        s = connect(sys.argv[2], sys.argv[3])
        start = time.time()
        end = start + float(sys.argv[4])
        closed = None
        while time.time() < end:
            ready, _, _ = select.select([s], [], [], max(0, end - time.time()))
            if ready:
                try:
                    chunk = s.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    closed = time.time() - start
                    break
        print(f"closed {closed:.1f}" if closed is not None else "open")
    elif mode == "refresh-flood":
        src, dst, asn, ident, seconds = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
        s = connect(src, dst)
        # A small receive buffer, as a peer that does not read; the agent's writes block early.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(open_message(asn, 3, ident) + KEEPALIVE)
        s.setblocking(False)
        batch = REFRESH * 100
        sent = 0
        end = time.time() + seconds
        next_keepalive = 0.0
        pending = b""
        while time.time() < end:
            now = time.time()
            if not pending:
                pending = batch
                if now >= next_keepalive:
                    pending = KEEPALIVE + batch
                    next_keepalive = now + 0.5
            try:
                n = s.send(pending)
                pending = pending[n:]
                if not pending:
                    sent += 100
            except BlockingIOError:
                select.select([], [s], [], 0.05)
            except OSError:
                break  # the agent closed the connection
        print(f"refreshes {sent}")
    elif mode == "prefix-flood":
        src, dst, asn, ident, count = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
        s = connect(src, dst)
        s.sendall(open_message(asn, 9, ident) + KEEPALIVE)
        prefixes = [(198 << 24 | 18 << 16) + i for i in range(count)]
        try:
            for i in range(0, count, 500):
                s.sendall(update(asn, prefixes[i : i + 500], src))
        except OSError:
            pass
        deadline = time.time() + 10
        result = "no-notification"
        while time.time() < deadline:
            try:
                got = read_message(s, deadline)
            except OSError:
                break
            if got is None:
                break
            kind, body = got
            if kind == 3:
                result = f"notification {body[0]}/{body[1]} {body[2:].hex()}"
                break
        s.close()
        print(result)
        # The agent must wait its back-off: a connection right now is closed without an OPEN.
        try:
            s = connect(src, dst)
            got = read_message(s, time.time() + 2)
            print("reconnect open" if got and got[0] == 1 else "reconnect refused")
            s.close()
        except OSError:
            print("reconnect refused")
    elif mode == "connect-flood":
        # Batches of 50 non-blocking connects, each batch closed once connected (or after 2 s).
        src, dst, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        done = 0
        for start in range(0, count, 50):
            batch = []
            for _ in range(min(50, count - start)):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((src, 0))
                s.setblocking(False)
                s.connect_ex((dst, 179))
                batch.append(s)
            waiting = list(batch)
            end = time.time() + 2
            while waiting and time.time() < end:
                _, ready, _ = select.select([], waiting, [], max(0, end - time.time()))
                for s in ready:
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        done += 1
                    waiting.remove(s)
            for s in batch:
                s.close()
        print(f"connections {done}")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
