#!/usr/bin/env python3
"""Compares the options of every `anycastd` subcommand (from `anycastd help CMD`) with anycastd(8).

For each subcommand: its SYNOPSIS line names each option in one of its spellings and nothing else,
and the DESCRIPTION has an `.It Fl ...` entry for every spelling (short and long). The subcommands in
the SYNOPSIS are exactly those the program lists. Prints one line per problem; exits 1 if any.

    man-options.py ANYCASTD-BINARY MAN-PAGE
"""
import re
import subprocess
import sys

GLOBAL = {"-h", "--help", "--version"}
MACRO = re.compile(r"^[A-Z][a-z]{1,2}$|^%[A-Z]$")


def help_text(binary, *args):
    return subprocess.run([binary, "help", *args], check=True, capture_output=True, text=True).stdout


def subcommands(binary):
    text = help_text(binary)
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith("SUBCOMMANDS:"):
            inside = True
        elif inside and re.match(r"^  [a-z]", line):
            names.append(line.split()[0])
        elif inside and line and not line.startswith(" "):
            inside = False
    return names


def option_groups(binary, command):
    """Each option as the set of its spellings, e.g. {"-c", "--config"}."""
    groups, inside = [], False
    for line in help_text(binary, command).splitlines():
        if line.startswith("OPTIONS:"):
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            inside = False
        if inside and re.match(r"^  -", line):
            head = re.split(r"\s{2,}", line.strip())[0]
            spellings = {m.split()[0] for m in re.findall(r"(?:^|, )(-{1,2}[A-Za-z][\w-]*)", head)}
            groups.append(spellings)
    return groups


def flags(tokens):
    """The flags of a line's `Fl` macros: `Fl c` is -c, `Fl -once` is --once, `Fl h | -help` two."""
    found, active = [], False
    for token in tokens:
        if token == "Fl":
            active = True
        elif MACRO.match(token):
            active = False
        elif active and token not in {"|", ",", ".", "(", ")"}:
            found.append("-" + token.split("=")[0])
    return found


def man_sections(path):
    synopsis, described, subs, command, section = {}, set(), [], None, None
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith(".Sh "):
            section = line[4:].strip()
            continue
        tokens = line.lstrip(".").split()
        if section == "SYNOPSIS":
            if line.startswith(".Nm"):
                command = None
            elif line.startswith(".Cm "):
                command = tokens[1]
                subs.append(command)
                synopsis.setdefault(command, set())
            elif command is not None:
                synopsis[command].update(flags(tokens))
            else:
                synopsis.setdefault("", set()).update(flags(tokens))
        elif section == "DESCRIPTION" and line.startswith(".It ") and "Fl" in tokens:
            described.update(flags(tokens))
    return synopsis, described, subs


def main():
    binary, page = sys.argv[1], sys.argv[2]
    problems = []
    synopsis, described, man_subs = man_sections(page)
    program_subs = subcommands(binary)
    if sorted(man_subs) != sorted(program_subs):
        problems.append(f"subcommands: program has {sorted(program_subs)}, SYNOPSIS has {sorted(man_subs)}")
    every_spelling = set(GLOBAL)
    for command in program_subs:
        groups = option_groups(binary, command)
        if not groups:
            problems.append(f"{command}: no options found in 'anycastd help {command}'")
        shown = synopsis.get(command, set())
        for group in groups:
            every_spelling |= group
            if group <= GLOBAL:
                continue
            if not group & shown:
                problems.append(f"{command}: option {'/'.join(sorted(group))} is not in its SYNOPSIS line")
        known = set().union(*groups) if groups else set()
        for flag in sorted(shown - known):
            problems.append(f"{command}: SYNOPSIS shows {flag}, which 'anycastd help {command}' does not list")
    for flag in sorted(every_spelling - described):
        problems.append(f"option {flag} has no '.It Fl' entry in the DESCRIPTION")
    for flag in sorted(described - every_spelling):
        problems.append(f"the DESCRIPTION describes {flag}, which no subcommand has")
    for flag in sorted(synopsis.get("", set()) - GLOBAL):
        problems.append(f"global SYNOPSIS line shows {flag}, which is not a global option")
    for problem in problems:
        print(problem)
    print(f"{len(program_subs)} subcommands, {len(every_spelling)} option spellings compared")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
