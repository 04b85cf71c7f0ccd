#!/usr/bin/env bash
# Renders the README's Figures table from Tests/bench/results.md: the lines between
# "<!-- figures: begin -->" and "<!-- figures: end -->" are replaced by the results' header and table.
# Usage: Tests/bench/readme-table.sh [RESULTS] [README]
set -eu
results=${1:-Tests/bench/results.md}
readme=${2:-README.md}
grep -q '^<!-- figures: begin -->$' "$readme" && grep -q '^<!-- figures: end -->$' "$readme" ||
    { echo "readme-table: $readme has no figures markers" >&2; exit 1; }
table=$(mktemp)
trap 'rm -f "$table"' EXIT
{
    echo "From [Tests/bench/results.md](Tests/bench/results.md), written by \`make bench\`:"
    sed -n 's/^- \(date\|commit\|machine\|build\|trials\): /\1: /p' "$results" | paste -sd '\t' | sed 's/\t/; /g; s/$/./'
    echo
    grep '^|' "$results"
} >"$table"
awk -v table="$table" '
    /^<!-- figures: begin -->$/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /^<!-- figures: end -->$/ { skip = 0 }
    !skip { print }
' "$readme" >"$readme.new"
mv "$readme.new" "$readme"
