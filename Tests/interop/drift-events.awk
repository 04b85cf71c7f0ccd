# Reads `ip -ts monitor address link` output (the events after one change to anycast0) and prints
# "START_US END_US": when the interface first stopped matching the wanted state, and when it matched it
# again, both from the monitor's timestamps (taken as each netlink event arrived, in one process that does
# nothing else), so neither the agent's nor the test's polling enters the figure.
# Variables: dev (anycast0), want (space-separated prefixes that must be present), added (one of them,
# just added to the configuration, so absent at first), gone (one prefix that must be absent, present at
# first). A configuration edit makes the state wrong before any event: START_US is then "-" and the
# caller uses the time of its own change. END_US is "-" while the state is still wrong.
function us(stamp, d) { # [2026-12-03T15:17:20.060223] -> epoch microseconds (exact in a double)
    d = substr(stamp, 2, 26)
    gsub(/[-T:]/, " ", d)
    split(d, f, ".")
    return sprintf("%.0f", mktime(f[1]) * 1000000 + substr(f[2] "000000", 1, 6))
}
function good(p, n, i) {
    if (!exists || !up) return 0
    n = split(want, p, " ")
    for (i = 1; i <= n; i++) if (!(p[i] in present)) return 0
    if (gone != "" && (gone in present)) return 0
    return 1
}
BEGIN {
    exists = 1
    up = 1
    n = split(want, w, " ")
    # Before the change every wanted prefix is there except `added` (just added to the configuration),
    # and `gone` (just removed from it) is still there.
    for (i = 1; i <= n; i++) if (w[i] != added) present[w[i]] = 1
    if (gone != "") present[gone] = 1
    start = ""
    end = ""
    wrong = !good()
}
/^\[/ {
    deleted = ($2 == "Deleted")
    i = deleted ? 3 : 2
    name = $(i + 1)
    if (name == dev ":") { # a link line: "N: anycast0: <FLAGS> ..."
        if (deleted) {
            exists = 0
            for (p in present) delete present[p]
        } else {
            exists = 1
            up = ($(i + 2) ~ /[<,]UP[,>]/)
        }
    } else if (name == dev && ($(i + 2) == "inet" || $(i + 2) == "inet6")) {
        prefix = $(i + 3)
        if (deleted) delete present[prefix]; else present[prefix] = 1
    } else next
    if (good()) {
        if (wrong && end == "") end = us($1)
    } else if (!wrong) {
        wrong = 1
        start = us($1)
        end = ""
    } else if (end != "") {
        end = ""
    }
}
END { print (start == "" ? "-" : start) " " (end == "" ? "-" : end) }
