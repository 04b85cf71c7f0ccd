#!/usr/bin/env python3
"""What a running anycastd's memory is: /proc/PID/smaps_rollup, the mappings of /proc/PID/smaps grouped
by what they are, and the resident pages of the binary itself attributed to the code they hold.

Resident pages come from /proc/PID/pagemap (bit 63, present; needs root), are mapped to the binary's
sections (readelf) and, within .text and .rodata, to the symbol covering most of the page (nm), whose
name says the module: Swift symbols carry their module in the mangling ($s7NIOCore...), the Swift runtime
is swift_* and swift:: (C++), ICU is icu_* / u_* with its data in icudt*. Used by Tests/bench/memory.sh.
Usage: memory-map.py PID
"""
import bisect
import collections
import os
import re
import struct
import subprocess
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")


def kb(value):
    return f"{value / 1024:.1f} MB" if value >= 1024 else f"{value} kB"


def smaps(pid):
    """Each mapping: (start, end, perms, offset, path, fields in kB)."""
    out, current = [], None
    head = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$")
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = head.match(line)
            if m:
                current = [int(m[1], 16), int(m[2], 16), m[3], int(m[4], 16), m[5].strip(), {}]
                out.append(current)
            elif current is not None and line.split(":")[0].isidentifier() and "kB" in line:
                key, value = line.split(":", 1)
                current[5][key] = int(value.split()[0])
    return out


def module_of(name):
    """The module a symbol belongs to, from its (mangled) name."""
    if name.startswith(("$s", "_$s", "$S")):
        body = name.lstrip("_")[2:]
        m = re.match(r"(\d+)([A-Za-z_][A-Za-z0-9_]*)", body)
        if m and int(m[1]) <= len(m[2]):
            module = m[2][: int(m[1])]
            return "Swift stdlib" if module == "Swift" else module
        # $sSa..., $sSD..., $sSS...: code on stdlib types (Array, Dictionary, String), including the generic
        # specializations other modules emit for their own types.
        return "on stdlib types (incl. specializations)"
    if re.match(r"_?swift_|_ZN5swift|_ZNK5swift|__swift|_swift_|swift::", name):
        return "Swift runtime"
    if re.match(r"(_ZN6icu_|_ZNK6icu_|icu_|u_|ucol_|ubrk_|unum_|udat_|uloc_|ures_|ucnv_|utrans_|icudt)", name):
        return "ICU"
    if name.startswith(("_ZNSt", "_ZNKSt", "_ZSt", "_ZN9__gnu_cxx", "__cxa", "_ZTV", "_ZTI", "_ZTS")):
        return "C++ runtime"
    if name.startswith(("mnl_",)):
        return "libmnl"
    if name.startswith(("c_nio", "CNIO")):
        return "NIO C shims"
    return "other C/asm"


def symbols(path):
    """Sorted (address, size, name) of the binary's defined symbols with a size."""
    out = subprocess.run(["nm", "-S", "--defined-only", "-n", path], capture_output=True, text=True).stdout
    result = []
    for line in out.splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) == 4 and parts[2].lower() in "tdrbvw":
            result.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    return result


def sections(path):
    """(address, size, name) of the allocated sections."""
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True).stdout
    result = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*)", line)
        if m and "A" in m[4]:
            result.append((int(m[2], 16), int(m[3], 16), m[1]))
    return sorted(result)


def main():
    pid = int(sys.argv[1])
    exe = os.readlink(f"/proc/{pid}/exe")
    maps = smaps(pid)
    with open(f"/proc/{pid}/smaps_rollup") as f:
        rollup = {l.split(":")[0]: int(l.split(":")[1].split()[0]) for l in f if "kB" in l}
    print(f"binary: {exe} ({os.path.getsize(exe) / 1048576:.1f} MB file)")
    print("smaps_rollup: " + ", ".join(
        f"{k} {kb(rollup.get(k, 0))}" for k in
        ["Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean", "Private_Clean", "Private_Dirty", "Anonymous"]))

    groups = collections.defaultdict(lambda: collections.Counter())
    for start, end, perms, offset, path, fields in maps:
        if path == exe:
            name = f"anycastd binary {perms}"
        elif path.startswith("/"):
            name = os.path.basename(path)
        elif path in ("[heap]", "[stack]", "[vdso]", "[vvar]"):
            name = path
        elif fields.get("Size", 0) <= 8 * 1024 + 4 and perms == "rw-p":
            name = "anonymous, thread stacks and small"
        else:
            name = "anonymous (malloc arenas, larger)"
        groups[name].update(fields)
        groups[name]["mappings"] += 1
    print(f"{'mapping':40} {'Rss':>9} {'Pss':>9} {'shared clean':>13} {'private clean':>14} {'private dirty':>14}")
    for name, f in sorted(groups.items(), key=lambda item: -item[1]["Rss"]):
        if f["Rss"] == 0:
            continue
        print(f"{name + ' (' + str(f['mappings']) + ')':40} {kb(f['Rss']):>9} {kb(f['Pss']):>9} "
              f"{kb(f['Shared_Clean']):>13} {kb(f['Private_Clean']):>14} {kb(f['Private_Dirty']):>14}")

    # The binary's resident pages, by section and by module.
    binary = [m for m in maps if m[4] == exe]
    base = min(m[0] - m[3] for m in binary)
    secs = sections(exe)
    syms = symbols(exe)
    starts = [s[0] for s in syms]
    by_section, by_module = collections.Counter(), collections.Counter()
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for start, end, perms, offset, path, fields in binary:
            for page in range(start, end, PAGE):
                pagemap.seek(page // PAGE * 8)
                (entry,) = struct.unpack("<Q", pagemap.read(8))
                if not entry >> 63 & 1:
                    continue
                address = page - base
                section = next((n for a, s, n in secs if a <= address < a + max(s, 1)), "(headers, padding)")
                # The mapping's permissions: whether a page is clean or dirty is per mapping in the table above.
                by_section[(section, perms)] += PAGE // 1024
                # The symbol covering most of this page.
                cover = collections.Counter()
                i = max(0, bisect.bisect_right(starts, address) - 1)
                while i < len(syms) and syms[i][0] < address + PAGE:
                    a, size, name = syms[i]
                    overlap = min(a + size, address + PAGE) - max(a, address)
                    if overlap > 0:
                        cover[module_of(name)] += overlap
                    i += 1
                module = cover.most_common(1)[0][0] if cover else f"no symbol ({section})"
                by_module[module] += PAGE // 1024
    total = sum(by_section.values())
    print(f"resident pages of the binary: {kb(total)}, by section (and the mapping it is in):")
    for (section, perms), size in by_section.most_common():
        print(f"  {section:28} {perms:8} {kb(size):>9}")
    print("the same pages by the code or data they hold (the symbol covering most of each page):")
    for module, size in by_module.most_common(25):
        print(f"  {module:40} {kb(size):>9}")


main()
