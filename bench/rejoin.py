#!/usr/bin/env python3
"""A diverged former primary rejoins: by pg_rewind against a fresh copy, on the same data.

usage: rejoin.py RESULTS   (PostgreSQL lab, pb1 the primary with the data to measure on, pb3 its
standby; POLARDB_LAB_PREFIX names the lab)

Twice, once rewinding and once copying again (-e switchover_rejoin=reseed): pb3 is promoted with
pb1 fenced, pb1 is started again on its own and takes a write pb3 never gets (it diverged), is
stopped, and switchover.yml makes it follow pb3; then pb1 becomes the primary again. Appended to
RESULTS (figure, seconds), from the sentence switchover.yml prints: rejoin_rewind (the whole rejoin,
its copy aside included), rejoin_rewind_aside (that copy), rejoin_reseed and rejoin_reseed_aside
(moving aside costs nothing there). Each copy kept aside is removed after.
"""
import os
import re
import subprocess
import sys

from dr import PREFIX, sql

PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"
DATA = "/var/lib/postgresql/primary"  # primary_data_dir's default on the postgresql engine
REJOINED = re.compile(r"Rejoined: pb1 (rewound \(pg_rewind\)|copied again) in ([0-9.]+) s(?: \(pg_rewind did not "
                      r"bring it back: .*?\))?, its old directory kept in (/\S+?)(?: \(copied there in ([0-9.]+) "
                      r"s\))?\.(?=\s|\"|\\|$)")


def playbook(log, *args):
    with open(log, "w") as out:
        done = subprocess.run(["ansible-playbook", *args], stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit("ansible-playbook %s failed: see %s" % (" ".join(args), log))
    with open(log) as out:
        return out.read()


def on_pb1(*argv, user="postgres"):
    subprocess.run(["docker", "exec", "-u", user, PREFIX + "pb1", *argv], check=True, capture_output=True)


def diverge_pb1(logs, method):
    playbook(os.path.join(logs, "rejoin-%s-promote.log" % method),
             "playbooks/promote.yml", "--limit", "pb3", "-e", "promote_fence_primary=true")
    on_pb1(PG_CTL, "start", "-w", "-l", DATA + ".log", "-D", DATA)
    if sql("postgresql", "pb1", "CREATE TABLE bench_split_%s AS SELECT 1 AS only_on_pb1" % method) is None:
        sys.exit("pb1, started on its own, took no write")
    on_pb1(PG_CTL, "stop", "-w", "-m", "fast", "-D", DATA)


def rejoin(logs, method):
    diverge_pb1(logs, method)
    output = playbook(os.path.join(logs, "rejoin-%s.log" % method), "playbooks/switchover.yml",
                      "-e", "switchover_to=pb3", "-e", "switchover_reseed_former_primary=true",
                      "-e", "switchover_rejoin=%s" % method)
    found = REJOINED.search(output)
    if not found:
        sys.exit("switchover.yml did not say how pb1 rejoined: see %s/rejoin-%s.log" % (logs, method))
    how, seconds, kept, aside = found.group(1), float(found.group(2)), found.group(3), float(found.group(4) or 0)
    if ("rewound" in how) != (method == "rewind"):
        sys.exit("asked to %s, pb1 %s: see %s/rejoin-%s.log" % (method, how, logs, method))
    on_pb1("rm", "-rf", kept, kept + ".log", user="root")
    playbook(os.path.join(logs, "rejoin-%s-back.log" % method), "playbooks/switchover.yml", "-e", "switchover_to=pb1")
    return seconds, aside


def main(results):
    logs = os.path.dirname(results)
    size = sql("postgresql", "pb1", "SELECT pg_database_size('postgres')")
    lines = []
    for method in ("rewind", "reseed"):
        seconds, aside = rejoin(logs, method)
        lines += ["rejoin_%s\t%.2f" % (method, seconds), "rejoin_%s_aside\t%.2f" % (method, aside)]
        print("rejoin by %s: %.2f s, of which %.2f s keeping the old directory aside (database %s bytes)"
              % (method, seconds, aside, size))
    with open(results, "a") as out:
        out.write("".join(line + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
