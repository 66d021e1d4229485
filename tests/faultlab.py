"""What the fault suites share: a writer on pb1, the measurements, the session's lab.

tests/faults (PostgreSQL engine) and tests/faults_polardb (PolarDB, pb3 on PFS)
each subclass FaultLab with their engine's paths and psql, and build their
session fixture with session_lab(). A suite breaks its lab on purpose and
removes it at the end (POLARDB_FAULTS_KEEP_LAB=1 keeps it), so it refuses to
run without a POLARDB_LAB_PREFIX naming a lab of its own.
"""
import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest
import yaml

import labtools
from labtools import Database, container_ip, docker, in_container

TABLE = "fault_rows"
# Where promote.yml and switchover.yml keep a receipt (polardb_receipt_file, by default).
RECEIPT_FILE = "/var/lib/polardb-cluster/last-receipt.json"
# Re-runs leave pb2 out: it takes no part in the faults, and the primary's play
# (which runs for pb1) still handles every follower.
RERUN = ("site.yml", "--limit", "pb1,pb3")
KEEP_LAB = "POLARDB_FAULTS_KEEP_LAB"
CONVERGED = "POLARDB_LAB_CONVERGED"


class Writer:
    """Rows inserted on pb1 by one long-lived psql fed from a thread, about 20 a second."""

    psql_options = ("-q",)
    kind = "writer"

    def __init__(self, database, tag, folder, interval=0.05):
        self.database, self.tag, self.folder, self.interval = database, tag, folder, interval
        self.stop_event = threading.Event()
        self.errors = self.output = None
        self.sent = 0

    def statement(self):
        return ("INSERT INTO %s (tag, payload) VALUES ('%s', md5(clock_timestamp()::text || random()));\n"
                % (TABLE, self.tag))

    def open_output(self):
        return subprocess.DEVNULL

    def __enter__(self):
        self.errors = open(self.folder / ("%s-%s.err" % (self.kind, self.tag)), "w")
        self.output = self.open_output()
        self.process = subprocess.Popen(
            ["docker", *self.database.exec_args(*self.psql_options, "-d", "postgres", interactive=True)],
            stdin=subprocess.PIPE, stdout=self.output, stderr=self.errors, text=True)
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()
        return self

    def loop(self):
        while not self.stop_event.is_set():
            self.sent += 1
            try:
                self.process.stdin.write(self.statement())
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError):
                return
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(timeout=10)
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.process.wait(timeout=60)
        self.errors.close()
        if self.output is not subprocess.DEVNULL:
            self.output.close()

    def rows(self):
        return int(self.database.query("SELECT count(*) FROM %s WHERE tag = '%s'" % (TABLE, self.tag)))


class Ledger(Writer):
    """A client that writes rows with unique ids and records which commits were acknowledged.

    One psql in autocommit mode, fed INSERT ... RETURNING from a thread: a
    line on its standard output is a commit the server acknowledged, so the
    ids read back from that output are exactly the rows a client was told are
    safe. missing(database) names those not there.
    """

    psql_options = ("-At",)
    kind = "ledger"

    def statement(self):
        return ("INSERT INTO %s (tag, payload) VALUES ('%s', '%s-%d') RETURNING payload;\n"
                % (TABLE, self.tag, self.tag, self.sent))

    def open_output(self):
        return open(self.folder / ("ledger-%s.out" % self.tag), "w")

    def acknowledged(self):
        prefix = self.tag + "-"
        lines = (self.folder / ("ledger-%s.out" % self.tag)).read_text().splitlines()
        return {line.strip() for line in lines if line.strip().startswith(prefix)}

    def missing(self, database):
        """The acknowledged ids that database does not hold."""
        present = set(database.query("SELECT payload FROM %s WHERE tag = '%s'" % (TABLE, self.tag)).split())
        return sorted(self.acknowledged() - present)


class FaultLab:
    """The converged lab, and the measurements the fault cases assert on.

    A subclass names its engine: database (the labtools class running psql on
    a host) and the paths its cases use.
    """

    database = Database
    prefix = labtools.PREFIX
    network = labtools.NETWORK
    data = labtools.LAB_DATA
    rerun = RERUN
    docker = staticmethod(docker)

    def __init__(self, tmp):
        self.tmp = tmp
        self.runs = []          # every playbook run of the session, for the security checks

    # ---- running things -----------------------------------------------------

    def playbook(self, *args, timeout=900):
        run = labtools.run_playbook(*args, timeout=timeout)
        self.runs.append(run)
        return run

    def start_playbook(self, *args):
        return labtools.start_playbook(*args, log=self.tmp / ("run-%d.log" % len(self.runs)))

    def finish_playbook(self, process, timeout=900):
        run = labtools.finish_playbook(process, timeout=timeout)
        self.runs.append(run)
        return run

    def converge(self, *args):
        run = self.playbook(*(args or RERUN))
        assert run.returncode == 0, run.tail()
        return run

    def adhoc(self, host, module, args, check=True):
        run = subprocess.run([str(labtools.BIN / "ansible"), host, "-m", module, "-a", json.dumps(args)],
                             cwd=labtools.PROJECT, env=labtools.ansible_env(), capture_output=True, text=True,
                             timeout=300)
        if check:
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        return run

    @staticmethod
    def sh(host, script, check=True, user=None):
        return in_container(host, script, check=check, user=user).stdout.strip()

    def db(self, host):
        return self.database(host)

    def writer(self, tag):
        return Writer(self.db("pb1"), tag, self.tmp)

    def ledger(self, tag, host="pb1"):
        return Ledger(self.db(host), tag, self.tmp)

    def inventory(self, name, standbys=(), host_vars=None, backup=None):
        """A copy of inventory/lab with more standbys, host variables and another backup host."""
        folder = self.tmp / name
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(labtools.PROJECT / "inventory" / "lab", folder)
        hosts_file = folder / "hosts.yml"
        hosts = yaml.safe_load(hosts_file.read_text())
        group = hosts["all"]["children"]["polardb"]["children"]["standby"]["hosts"]
        for host in standbys:
            group[host] = {"ansible_docker_host": "{{ polardb_lab_prefix }}%s" % host}
        if backup:
            hosts["all"]["children"]["backup"]["hosts"] = {backup: {"ansible_docker_host": "{{ polardb_lab_prefix }}%s"
                                                                    % backup}}
        hosts_file.write_text(yaml.safe_dump(hosts))
        for host, values in (host_vars or {}).items():
            (folder / "host_vars").mkdir(exist_ok=True)
            (folder / "host_vars" / ("%s.yml" % host)).write_text(yaml.safe_dump(values))
        return str(folder)

    # ---- what the cases measure ----------------------------------------------

    def rows(self, host, last_id=None):
        """(row count, checksum) of the writer's table on host (of its rows up to last_id, if given)."""
        answer = self.db(host).query(
            "SELECT count(*) || ' ' || coalesce(md5(string_agg(id || ':' || tag || ':' || payload, ',' "
            "ORDER BY id)), '-') FROM %s%s" % (TABLE, "" if last_id is None else " WHERE id <= %d" % last_id))
        count, checksum = answer.split()
        return int(count), checksum

    def last_id(self, host):
        return int(self.db(host).query("SELECT coalesce(max(id), 0) FROM %s" % TABLE))

    def wait_caught_up(self, standby="pb3", timeout=120):
        """Wait until standby has replayed everything pb1 had written when asked."""
        target = self.db("pb1").query("SELECT pg_current_wal_lsn()")
        self.db(standby).wait_for(
            "SELECT coalesce(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '%s') >= 0, false)" % target, "t", timeout)

    def wait_archived(self, slot="pb3_archive", timeout=120):
        """Wait until the archive's slot on pb1 has received everything pb1 had written when asked."""
        target = self.db("pb1").query("SELECT pg_current_wal_lsn()")
        self.db("pb1").wait_for(
            "SELECT coalesce(restart_lsn >= '%s', false) FROM pg_replication_slots WHERE slot_name = '%s'"
            % (target, slot), "t", timeout)

    def wait_streaming(self, standby="pb3", timeout=120):
        self.db("pb1").wait_for(
            "SELECT count(*) FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid "
            "WHERE s.slot_name = '%s' AND r.state = 'streaming'" % standby, "1", timeout)

    def assert_same_rows(self, standby="pb3", timeout=120):
        """The standby holds exactly pb1's rows (count and checksum); returns the count.

        Every row pb1 had when asked must be on the standby, and the standby's
        rows must be pb1's, compared up to the standby's last row: a writer still
        running adds rows to pb1 that the standby has not replayed yet.
        """
        last_id = self.last_id("pb1")
        self.wait_caught_up(standby, timeout)
        upto = self.last_id(standby)
        assert upto >= last_id, "%s has rows up to id %d, pb1 had %d" % (standby, upto, last_id)
        replica, primary = self.rows(standby, upto), self.rows("pb1", upto)
        assert replica == primary, "%s has %s, pb1 has %s (count, checksum)" % (standby, replica, primary)
        return primary[0]

    def assert_healthy(self, standby="pb3", timeout=120):
        """Streaming through its slot, in recovery, with every row of pb1."""
        self.wait_streaming(standby, timeout)
        assert self.db(standby).query("SELECT pg_is_in_recovery()") == "t"
        return self.assert_same_rows(standby, timeout)

    def postmaster_start(self, host):
        return self.db(host).query("SELECT pg_postmaster_start_time()")

    def system_identifier(self, host):
        return self.db(host).query("SELECT system_identifier FROM pg_control_system()")

    def ip(self, host):
        return container_ip(host)

    def receipt(self, host):
        """The receipt promote.yml or switchover.yml kept on host (polardb_receipt_file)."""
        return json.loads(self.sh(host, "cat " + RECEIPT_FILE))

    @staticmethod
    def assert_receipt(run, operation, host, old, timeline):
        """The run printed the receipt of a fenced operation that lost nothing; returns its sentence."""
        lsn = r"[0-9A-F]+/[0-9A-F]+"
        line = re.search(r"Receipt: %s of %s \(from %s\): writable after [0-9.]+ s; write gap [0-9.]+ s from when "
                         r"this run stopped %s; 0 bytes lost: the WAL of %s ended at %s, timeline %d began at %s\."
                         % (operation, host, old, old, old, lsn, timeline, lsn), run.output)
        assert line, run.tail()
        return line.group(0)


def changed_tasks(run, host):
    """Names of the tasks that reported changed for host, in the order they ran."""
    names, task = [], None
    for line in run.output.splitlines():
        match = re.match(r"TASK \[(?:[\w.]+ : )?(.*?)\] \**$", line)
        if match:
            task = match.group(1)
        elif line.startswith("changed: [%s]" % host) and task not in names:
            names.append(task)
    return names


def assert_refused(run, *messages):
    """The run failed, changed nothing on any host, and said each of messages (regular expressions)."""
    assert run.returncode != 0, run.tail()
    assert run.recap and all(count == 0 for count in run.changed.values()), run.tail()
    for message in messages:
        assert re.search(message, run.output), "%r not in the output\n%s" % (message, run.tail())


def session_lab(fault_lab, suite, before_lab=None):
    """Body of a suite's session fixture: build and converge the lab, yield fault_lab, remove the lab.

    With POLARDB_LAB_CONVERGED=1 the lab is someone else's to build and remove
    (a molecule scenario's create, converge and destroy): it is only used.
    """
    if not labtools.PREFIX:
        pytest.exit("Set POLARDB_LAB_PREFIX (%s): these tests break their lab and remove it at the end, so they "
                    "never run on the unprefixed lab of `make demo`." % suite, returncode=4)
    owned = not os.environ.get(CONVERGED)
    # A run killed before its teardown leaves containers that hold an old
    # cluster (a second standby, say): this suite's prefix is its own, so it
    # starts from nothing.
    if owned:
        tear_down()
        if before_lab:
            before_lab()
    try:
        if owned:
            fault_lab.converge("playbooks/lab.yml")
            fault_lab.converge("site.yml")
        fault_lab.db("pb1").query(
            "CREATE TABLE IF NOT EXISTS %s (id bigserial PRIMARY KEY, tag text NOT NULL, payload text NOT NULL, "
            "written_at timestamptz NOT NULL DEFAULT clock_timestamp())" % TABLE)
        with fault_lab.writer("converged"):
            time.sleep(1)
        fault_lab.assert_healthy()
        yield fault_lab
    finally:
        # POLARDB_FAULTS_KEEP_LAB=1 keeps the lab, to look at it or run one case again.
        if owned and not os.environ.get(KEEP_LAB):
            tear_down()


def tear_down():
    attached = backing_inodes(labtools.attached_lab_devices())
    down = labtools.run_playbook("playbooks/lab.yml", "-e", "lab_state=absent")
    assert down.returncode == 0, down.tail()
    leaked = set(attached.items()) & set(backing_inodes(attached).items())
    assert not leaked, "loop devices still backed by the lab's images: %s" % sorted(leaked)


def backing_inodes(devices):
    """{device: inode of its backing file} of those still attached."""
    found = {}
    for device in devices:
        run = subprocess.run(["losetup", "-n", "-O", "BACK-INO", device], capture_output=True, text=True)
        if run.returncode == 0 and run.stdout.strip():
            found[device] = run.stdout.strip()
    return found


def trust_rules(lab, host):
    """The trust lines the server on host has loaded (pg_hba_file_rules), as 'line N: TYPE ADDRESS'."""
    return lab.db(host).query(
        "SELECT coalesce(string_agg('line ' || line_number || ': ' || type || ' ' || coalesce(address, ''), '; '"
        " ORDER BY line_number), '') FROM pg_hba_file_rules WHERE auth_method = 'trust'")


def passwordless_localhost_login(lab, host):
    """What psql says when logging in to host's server as postgres over TCP to localhost, without a password.

    As root, with no password file and nothing in the environment: only a trust line lets it in.
    """
    run = labtools.in_container(host, "env -u PGPASSWORD -u PGPASSFILE %s -w -AtX 'host=127.0.0.1 port=5432 "
                                      "user=postgres dbname=postgres connect_timeout=10 passfile=/nonexistent' "
                                      "-c 'SELECT 1' 2>&1; echo rc=$?" % lab.database.psql, check=False)
    return run.stdout.strip()


def assert_hardened(lab, hosts=("pb1", "pb2", "pb3")):
    """No server of hosts has a trust line loaded, and none lets postgres in over TCP without a password."""
    for host in hosts:
        assert trust_rules(lab, host) == "", "%s loads trust lines: %s" % (host, trust_rules(lab, host))
        login = passwordless_localhost_login(lab, host)
        assert login.endswith("rc=2") and "no password supplied" in login, "%s: %s" % (host, login)
