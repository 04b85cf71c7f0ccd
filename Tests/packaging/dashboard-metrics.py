#!/usr/bin/env python3
"""Checks a Grafana dashboard: it is JSON, and every anycastd_* metric its queries use is one that
Sources/Daemon/Metrics.swift exports (histograms with their _bucket, _sum and _count series).

    dashboard-metrics.py DASHBOARD.json Sources/Daemon/Metrics.swift
"""
import json
import re
import sys


def queries(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            elif key == "query" and isinstance(value, str):
                yield value
            else:
                yield from queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from queries(item)


def main():
    dashboard_path, metrics_path = sys.argv[1], sys.argv[2]
    with open(dashboard_path, encoding="utf-8") as f:
        dashboard = json.load(f)
    with open(metrics_path, encoding="utf-8") as f:
        exported = set(re.findall(r'"(anycastd_[a-z0-9_]+)"', f.read()))
    for name in list(exported):
        exported |= {name + "_bucket", name + "_sum", name + "_count"}
    used = set()
    for query in queries(dashboard):
        used |= set(re.findall(r"\banycastd_[a-z0-9_]+", query))
    if not used:
        print(f"{dashboard_path}: no anycastd metric is queried")
        return 1
    missing = sorted(used - exported)
    for name in missing:
        print(f"{dashboard_path}: {name} is not a metric of {metrics_path}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
