#!/usr/bin/env python3
"""Prints one bench run's figures beside their targets: seconds, or a ratio to another figure of the same run.

usage: report.py TARGETS RESULTS  (both tab-separated; see bench/targets.tsv)
"""
import sys


def rows(path):
    with open(path) as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                yield line.rstrip("\n").split("\t")


def main(targets_path, results_path):
    seconds = {name: float(value) for name, value in rows(results_path)}
    targets = {}
    for fields in rows(targets_path):
        name, limit, baseline = (fields + [""])[:3]
        targets.setdefault(name, []).append((float(limit), baseline))
    print("%-24s %8s  %-30s %s" % ("figure", "seconds", "compared with", "target"))
    for name, value in seconds.items():
        for limit, baseline in targets.get(name, [(None, "")]):
            if limit is None:
                compared, target, over = "", "-", False
            elif baseline:
                ratio = value / seconds[baseline] if seconds.get(baseline) else float("inf")
                compared = "%s %.1f s: %.2fx" % (baseline, seconds.get(baseline, 0), ratio)
                target, over = "<= %.2fx" % limit, ratio > limit
            else:
                compared, target, over = "", "<= %g s" % limit, value > limit
            print("%-24s %8.1f  %-30s %s%s" % (name, value, compared, target, "  over target" if over else ""))


if __name__ == "__main__":
    main(*sys.argv[1:3])
