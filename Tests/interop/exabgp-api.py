# ExaBGP API process for the interop lab: appends every JSON message ExaBGP hands it to
# DIR/received.jsonl (one line each, written as soon as it arrives, so tests can read it live) and
# forwards the lines that tests append to DIR/commands to ExaBGP (for example
# "neighbor 10.77.4.2 announce route-refresh ipv4 unicast").
# stdin is read with os.read, not sys.stdin: select() cannot see lines already sitting in Python's
# buffer, which would delay them until ExaBGP writes something else.
import os
import select
import sys

folder = sys.argv[1]
log = open(os.path.join(folder, "received.jsonl"), "ab", buffering=0)
commands_path = os.path.join(folder, "commands")
open(commands_path, "a").close()
commands = open(commands_path, "r")
pending = b""

while True:
    ready, _, _ = select.select([0], [], [], 0.1)
    if ready:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        pending += chunk
        if b"\n" in pending:
            complete, pending = pending.rsplit(b"\n", 1)
            log.write(complete + b"\n")
    for command in commands.readlines():
        if command.strip():
            sys.stdout.write(command if command.endswith("\n") else command + "\n")
            sys.stdout.flush()
