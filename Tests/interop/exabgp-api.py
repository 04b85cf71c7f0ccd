# ExaBGP API process for the interop lab: appends every JSON message ExaBGP hands it to
# DIR/received.jsonl (flushed per line, so tests can read it live) and forwards the lines that
# tests append to DIR/commands to ExaBGP (for example "announce route-refresh ipv4 unicast").
import os
import select
import sys

folder = sys.argv[1]
log = open(os.path.join(folder, "received.jsonl"), "a", buffering=1)
commands_path = os.path.join(folder, "commands")
open(commands_path, "a").close()
commands = open(commands_path, "r")

while True:
    ready, _, _ = select.select([sys.stdin], [], [], 0.1)
    if ready:
        line = sys.stdin.readline()
        if not line:
            break
        log.write(line if line.endswith("\n") else line + "\n")
    for command in commands.readlines():
        if command.strip():
            sys.stdout.write(command if command.endswith("\n") else command + "\n")
            sys.stdout.flush()
