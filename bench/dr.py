#!/usr/bin/env python3
"""Failover figures under load, on a converged lab: a ledger client writes all along.

usage: dr.py RESULTS ENGINE   (POLARDB_LAB_PREFIX names the lab)

PostgreSQL: a switchover to pb3 and back to pb1, then a promote of pb3 with pb1
fenced, and a switchover back to pb1. PolarDB: the promote of pb3 with pb1
fenced (switchover is PostgreSQL-only). The client inserts a row with a new
id about 10 times a second into whichever of pb1 and pb3 takes writes, and
keeps the ids whose commit was acknowledged. Appended to RESULTS (figure,
seconds), PolarDB's prefixed polardb_: each run's wall time (NAME_run), the
receipt's seconds_to_writable and write_gap_seconds, and the longest time the
client went without an acknowledged commit (NAME_client_gap). Then it prints
each receipt's bytes lost and the ledger's verdict: acknowledged commits, and
those missing on the primary at the end (it exits 1 when one is missing).
"""
import json
import os
import subprocess
import sys
import threading
import time

PREFIX = os.environ.get("POLARDB_LAB_PREFIX", "bench-")
RECEIPT = "/var/lib/polardb-cluster/last-receipt.json"  # polardb_receipt_file's default
PSQL = {"postgresql": ("/usr/lib/postgresql/15/bin/psql", "/var/run/postgresql"),
        "polardb": ("/home/postgres/tmp_polardb_pg_15_base/bin/psql", "/tmp")}
PROMOTE_FENCED = ("playbooks/promote.yml", "--limit", "pb3", "-e", "promote_fence_primary=true")
STEPS = {
    "postgresql": [("switchover", ("playbooks/switchover.yml", "-e", "switchover_to=pb3"), "pb3"),
                   ("switchback", ("playbooks/switchover.yml", "-e", "switchover_to=pb1"), "pb1"),
                   ("promote_fenced", PROMOTE_FENCED, "pb3"),
                   ("back_after_promote", ("playbooks/switchover.yml", "-e", "switchover_to=pb1"), "pb1")],
    "polardb": [("promote_fenced", PROMOTE_FENCED, "pb3")],
}


def sql(engine, host, statement, timeout=10):
    psql, socket_dir = PSQL[engine]
    try:
        done = subprocess.run(["docker", "exec", "-u", "postgres", PREFIX + host, psql, "-h", socket_dir, "-X",
                               "-qAt", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", statement],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


class Ledger(threading.Thread):
    """Inserts ids last_id + 1, + 2, ... into bench_ledger on whichever host takes them; keeps (id, time) of
    each commit the server acknowledged (the id came back from RETURNING)."""

    def __init__(self, engine, hosts, last_id=0):
        super().__init__(daemon=True)
        self.engine, self.hosts = engine, list(hosts)
        # ids go on from the table's highest: a second run on the same lab writes new rows
        self.first = last_id
        self.acknowledged, self.attempts = [], last_id
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for host in list(self.hosts):
                self.attempts += 1
                row = sql(self.engine, host, "INSERT INTO bench_ledger (id) VALUES (%d) RETURNING id"
                          % self.attempts, timeout=5)
                if row == str(self.attempts):
                    self.acknowledged.append((self.attempts, time.monotonic()))
                    self.hosts.remove(host)
                    self.hosts.insert(0, host)  # stay with the writer while it takes writes
                    break
            time.sleep(0.1)

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)

    def longest_gap(self, start, end):
        """The longest time between two acknowledged commits around [start, end]."""
        times = [at for _, at in self.acknowledged]
        before = [at for at in times if at <= start]
        after = [at for at in times if at >= end]
        inside = [at for at in times if start < at < end]
        points = ([before[-1]] if before else [start]) + inside + ([after[0]] if after else [end])
        return max(b - a for a, b in zip(points, points[1:]))


def wait_for_a_commit(ledger, since, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ledger.acknowledged and ledger.acknowledged[-1][1] > since:
            return True
        time.sleep(0.2)
    return False


def main(results, engine):
    figure = (lambda name: name) if engine == "postgresql" else (lambda name: "polardb_" + name)
    if sql(engine, "pb1", "CREATE TABLE IF NOT EXISTS bench_ledger (id bigint PRIMARY KEY, "
                          "at timestamptz NOT NULL DEFAULT clock_timestamp())") is None:
        sys.exit("pb1 did not create the ledger table: is the lab converged with pb1 the primary?")
    ledger = Ledger(engine, ("pb1", "pb3"), int(sql(engine, "pb1", "SELECT coalesce(max(id), 0) FROM bench_ledger")))
    ledger.start()
    time.sleep(3)
    lines, receipts = [], []
    logs = os.path.dirname(results)
    for name, playbook, new_primary in STEPS[engine]:
        start = time.monotonic()
        with open(os.path.join(logs, "dr-%s%s.log" % ("" if engine == "postgresql" else "polardb-", name)),
                  "w") as log:
            run = subprocess.run(["ansible-playbook", *playbook], stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic()
        if run.returncode != 0:
            ledger.stop()
            sys.exit("%s failed: see %s" % (name, log.name))
        if not wait_for_a_commit(ledger, end):
            ledger.stop()
            sys.exit("after %s the client got no commit acknowledged within 60 s" % name)
        receipt = json.loads(subprocess.run(["docker", "exec", PREFIX + new_primary, "cat", RECEIPT],
                                            capture_output=True, text=True, check=True).stdout)
        receipts.append((name, receipt))
        lines += ["%s\t%.1f" % (figure(name + "_run"), end - start),
                  "%s\t%.2f" % (figure(name + "_to_writable"), receipt["seconds_to_writable"]),
                  "%s\t%.2f" % (figure(name + "_client_gap"), ledger.longest_gap(start, end))]
        if receipt["write_gap_seconds"] is not None:
            lines.append("%s\t%.2f" % (figure(name + "_receipt_gap"), receipt["write_gap_seconds"]))
        time.sleep(2)
    ledger.stop()
    final = STEPS[engine][-1][2]
    present = set(int(value) for value in (sql(engine, final, "SELECT id FROM bench_ledger", timeout=60)
                                           or "").split())
    acknowledged = [ident for ident, _ in ledger.acknowledged]
    missing = sorted(set(acknowledged) - present)
    with open(results, "a") as out:
        out.write("".join(line + "\n" for line in lines))
    for name, receipt in receipts:
        print("%s: %s" % (name, receipt["line"]))
    print("ledger (%s): %d commits acknowledged in %d attempts, %d missing on %s%s"
          % (engine, len(acknowledged), ledger.attempts - ledger.first, len(missing), final,
             ": %s" % missing[:20] if missing else ""))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
