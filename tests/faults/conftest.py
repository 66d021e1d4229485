"""One converged lab for every fault case, and what the cases measure it with.

The session builds the lab (POLARDB_LAB_PREFIX must name it: these tests break
and finally destroy it), converges site.yml once, creates the table the writer
fills on pb1, and tears everything down at the end. Cases run in file order
(test_1_..., test_2_...) and each leaves the lab healthy for the next.
"""
import json
import os
import shutil
import subprocess
import threading
import time

import pytest
import yaml

import labtools
from labtools import Database, container_ip, docker, in_container

TABLE = "fault_rows"
STANDBY_MOUNT = "/var/lib/polardb/nvme2n1"
STANDBY_DATA = STANDBY_MOUNT + "/standby"
PRIMARY_DATA = "/var/lib/postgresql/primary"
PG_BIN = "/usr/lib/postgresql/15/bin"
PASSWORD = yaml.safe_load((labtools.PROJECT / "inventory/lab/group_vars/all.yml").read_text())[
    "polardb_replication_password"]
# Re-runs leave pb2 out: it takes no part in the faults, and the primary's play
# (which runs for pb1) still handles every follower.
RERUN = ("site.yml", "--limit", "pb1,pb3")


class Writer:
    """Rows inserted on pb1 by one long-lived psql fed from a thread, about 20 a second."""

    def __init__(self, tag, folder, interval=0.05):
        self.tag, self.folder, self.interval = tag, folder, interval
        self.stop_event = threading.Event()
        self.errors = None

    def __enter__(self):
        self.errors = open(self.folder / ("writer-%s.err" % self.tag), "w")
        self.process = subprocess.Popen(
            ["docker", "exec", "-i", "-u", "postgres", labtools.PREFIX + "pb1", "psql", "-h", labtools.SOCKET_DIR,
             "-X", "-q", "-d", "postgres"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.errors, text=True)
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()
        return self

    def loop(self):
        statement = ("INSERT INTO %s (tag, payload) VALUES ('%s', md5(clock_timestamp()::text || random()));\n"
                     % (TABLE, self.tag))
        while not self.stop_event.is_set():
            try:
                self.process.stdin.write(statement)
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

    def rows(self):
        return int(Database("pb1").query("SELECT count(*) FROM %s WHERE tag = '%s'" % (TABLE, self.tag)))


class FaultLab:
    """The converged lab, and the measurements the fault cases assert on."""

    prefix = labtools.PREFIX
    network = labtools.NETWORK
    data = labtools.LAB_DATA
    standby_mount = STANDBY_MOUNT
    standby_data = STANDBY_DATA
    primary_data = PRIMARY_DATA
    pg_bin = PG_BIN
    password = PASSWORD
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

    @staticmethod
    def db(host):
        return Database(host)

    def writer(self, tag):
        return Writer(tag, self.tmp)

    def inventory(self, name, standbys=(), host_vars=None):
        """A copy of inventory/lab with more standbys and host variables."""
        folder = self.tmp / name
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(labtools.PROJECT / "inventory" / "lab", folder)
        hosts_file = folder / "hosts.yml"
        hosts = yaml.safe_load(hosts_file.read_text())
        group = hosts["all"]["children"]["polardb"]["children"]["standby"]["hosts"]
        for host in standbys:
            group[host] = {"ansible_host": "{{ polardb_lab_prefix }}%s" % host}
        hosts_file.write_text(yaml.safe_dump(hosts))
        for host, values in (host_vars or {}).items():
            (folder / "host_vars").mkdir(exist_ok=True)
            (folder / "host_vars" / ("%s.yml" % host)).write_text(yaml.safe_dump(values))
        return str(folder)

    # ---- what the cases measure ----------------------------------------------

    def rows(self, host):
        """(row count, checksum) of the writer's table on host."""
        answer = self.db(host).query(
            "SELECT count(*) || ' ' || coalesce(md5(string_agg(id || ':' || tag || ':' || payload, ',' "
            "ORDER BY id)), '-') FROM %s" % TABLE)
        count, checksum = answer.split()
        return int(count), checksum

    def wait_caught_up(self, standby="pb3", timeout=120):
        """Wait until standby has replayed everything pb1 had written when asked."""
        target = self.db("pb1").query("SELECT pg_current_wal_lsn()")
        self.db(standby).wait_for(
            "SELECT coalesce(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '%s') >= 0, false)" % target, "t", timeout)

    def wait_streaming(self, standby="pb3", timeout=120):
        self.db("pb1").wait_for(
            "SELECT count(*) FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid "
            "WHERE s.slot_name = '%s' AND r.state = 'streaming'" % standby, "1", timeout)

    def assert_same_rows(self, standby="pb3", timeout=120):
        """The standby holds exactly pb1's rows (count and checksum); returns the count."""
        self.wait_caught_up(standby, timeout)
        primary, replica = self.rows("pb1"), self.rows(standby)
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

    def fingerprint(self):
        """What a run that changes nothing leaves exactly as it was, on pb1 and pb3."""
        pb3 = self.sh("pb3", """
            readlink /dev/nvme2n1; findmnt -n -o MAJ:MIN,TARGET --mountpoint %(mount)s
            cd %(data)s && md5sum postgresql.conf postgresql.auto.conf polardb_standby.conf standby.signal
            md5sum /var/lib/postgresql/.pgpass.pb3; stat -c '%%i %%U %%a' . /var/lib/postgresql/.pgpass.pb3
            ls -A /data /var/lib/polardb %(mount)s; ls /dev | grep -v -e '^pts$' -e '^shm$'
        """ % dict(mount=STANDBY_MOUNT, data=STANDBY_DATA))
        pb1 = self.sh("pb1", "cd %s && md5sum pg_hba.conf postgresql.conf postgresql.auto.conf polardb_primary.conf"
                      % PRIMARY_DATA)
        sql = self.db("pb1").query(
            "SELECT string_agg(slot_name || ':' || slot_type, ',' ORDER BY slot_name) FROM pg_replication_slots; "
            "SELECT md5(rolpassword) FROM pg_authid WHERE rolname = 'replicator'")
        return dict(pb3=pb3, pb1=pb1, pb1_catalog=sql, loop_devices=sorted(labtools.attached_lab_devices()),
                    pb1_started=self.postmaster_start("pb1"), pb3_started=self.postmaster_start("pb3"))


def create_network_with_a_fixed_subnet():
    """The lab network, created before the lab role with the subnet Docker picks, but fixed.

    Only a network with a configured subnet lets `docker network connect --ip`
    give a container its old address back, as a real network cut would.
    """
    if docker("network", "inspect", labtools.NETWORK, check=False).returncode == 0:
        return
    label = "org.polardb.lab=" + labtools.NETWORK
    docker("network", "create", "--label", label, labtools.NETWORK)
    [config] = json.loads(docker("network", "inspect", "-f", "{{json .IPAM.Config}}", labtools.NETWORK).stdout)
    docker("network", "rm", labtools.NETWORK)
    docker("network", "create", "--label", label, "--subnet", config["Subnet"], "--gateway", config["Gateway"],
           labtools.NETWORK)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    if not labtools.PREFIX:
        pytest.exit("Set POLARDB_LAB_PREFIX (make test-faults uses faults-): these tests break their lab and "
                    "remove it at the end, so they never run on the unprefixed lab of `make demo`.", returncode=4)
    fault_lab = FaultLab(tmp_path_factory.mktemp("faults"))
    create_network_with_a_fixed_subnet()
    try:
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
        if not os.environ.get("POLARDB_FAULTS_KEEP_LAB"):
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
