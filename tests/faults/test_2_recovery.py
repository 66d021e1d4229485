"""Faults while pb1 keeps writing, and what a re-run (or nothing at all) brings back.

Every case ends by asserting the lab is healthy again: pb3 streams through
its slot, is in recovery, and holds exactly pb1's rows (count and checksum of
the whole table after pb3 has replayed pb1's current WAL position).
"""
import json
import re
import time

import pytest

FAIL_WITHIN_S = 60


def assert_failed_cleanly(run, failed_hosts, *messages):
    assert run.returncode != 0, run.tail()
    assert run.seconds < FAIL_WITHIN_S, run.tail()
    assert all(count == 0 for count in run.changed.values()), run.tail()
    for host in failed_hosts:
        counts = run.recap[host]
        assert counts["failed"] + counts["unreachable"] >= 1, run.tail()
    for message in messages:
        assert re.search(message, run.output), "%r not in the output\n%s" % (message, run.tail())


# ---- 4. the standby's database stopped or killed ---------------------------------


@pytest.mark.full(reason="checked by make test-full only")
@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_a_stopped_or_killed_standby_is_started_again(lab, how):
    before = lab.postmaster_start("pb3")
    data_dir_inode = lab.sh("pb3", "stat -c %i " + lab.standby_data)
    with lab.writer("standby-" + how) as writer:
        time.sleep(1)
        if how == "stopped":
            lab.sh("pb3", "%s/pg_ctl stop -m fast -D %s" % (lab.pg_bin, lab.standby_data), user="postgres")
        else:
            lab.sh("pb3", "kill -KILL $(head -1 %s/postmaster.pid)" % lab.standby_data)
            lab.sh("pb3", "for i in $(seq 50); do pgrep -x postgres >/dev/null || exit 0; sleep 0.2; done; exit 1")
        assert lab.db("pb3").try_query("SELECT 1") is None
        time.sleep(2)
        run = lab.converge()
    assert re.search(r"Start the standby\] \**\nchanged: \[pb3\]", run.output), run.tail()
    assert lab.postmaster_start("pb3") != before
    assert lab.sh("pb3", "stat -c %i " + lab.standby_data) == data_dir_inode, "the standby was rebuilt"
    assert writer.rows() > 20
    lab.assert_healthy()


# ---- 1. the standby's container restarted --------------------------------------


@pytest.mark.full(reason="checked by make test-full only")
def test_a_restarted_standby_container_comes_back_with_every_row(lab):
    data_dir_inode = lab.sh("pb3", "stat -c %i " + lab.standby_data)
    loop_before = lab.sh("pb3", "readlink -f /dev/nvme2n1")
    with lab.writer("container-restart") as writer:
        time.sleep(1)
        lab.docker("restart", lab.prefix + "pb3")
        # What the restart took away: the alias, the mount, the database.
        assert lab.sh("pb3", "test -e /dev/nvme2n1 || echo gone") == "gone"
        assert lab.sh("pb3", "mountpoint -q %s || echo unmounted" % lab.standby_mount) == "unmounted"
        # Meanwhile the slot holds pb3's WAL on pb1, even across segment switches and a checkpoint.
        pb1 = lab.db("pb1")
        pb1.wait_for("SELECT active FROM pg_replication_slots WHERE slot_name = 'pb3'", "f", timeout=60)
        pb1.query("SELECT pg_switch_wal()")
        time.sleep(1)
        pb1.query("SELECT pg_switch_wal()")
        pb1.query("CHECKPOINT")
        slot = pb1.query("SELECT active || ' ' || wal_status || ' ' || pg_walfile_name(restart_lsn) "
                         "FROM pg_replication_slots WHERE slot_name = 'pb3'").split()
        assert slot[0] == "false" and slot[1] in ("reserved", "extended"), slot
        assert pb1.query("SELECT count(*) FROM pg_ls_waldir() WHERE name = '%s'" % slot[2]) == "1"
        rows_while_down = writer.rows()
        run = lab.converge()
    assert writer.rows() > rows_while_down > 20
    # loop node, alias, mount and standby are back, on the same disk and data.
    assert lab.sh("pb3", "readlink -f /dev/nvme2n1") == loop_before
    assert lab.sh("pb3", "mountpoint -q %s && echo mounted" % lab.standby_mount) == "mounted"
    assert lab.sh("pb3", "stat -c %i " + lab.standby_data) == data_dir_inode, "the standby was rebuilt"
    lab.assert_healthy()


# ---- 2. the standby cut off the network --------------------------------------------


@pytest.mark.full(reason="checked by make test-full only")
def test_a_standby_cut_off_the_network_resumes_by_itself(lab):
    address = lab.ip("pb3")
    started = lab.postmaster_start("pb3")
    with lab.writer("network-cut") as writer:
        time.sleep(1)
        lab.docker("network", "disconnect", lab.network, lab.prefix + "pb3")
        try:
            rows_before_run = writer.rows()
            run = lab.playbook(*lab.rerun)
        finally:
            reconnect(lab, "pb3", address)
        assert lab.ip("pb3") == address
        # Nothing is re-run: the standby's own walreceiver finds pb1 again.
        lab.wait_streaming("pb3", timeout=150)
    assert_failed_cleanly(run, ["pb3"], r"pb3 cannot resolve the primary pb1 \(pb1\)")
    # The primary's play warned and kept pb3's entry instead of failing.
    assert run.recap["pb1"]["failed"] == 0
    # a real warning, whose lines Ansible may wrap anywhere
    assert re.search(r"\[WARNING\]: .*The primary pb1 cannot resolve pb3 now .*pg_hba.conf entry "
                     r"hostssl replication replicator %s/32 scram-sha-256 .* stays as it is" % re.escape(address),
                     " ".join(run.output.split())), run.tail()
    assert writer.rows() > rows_before_run > 0
    assert lab.postmaster_start("pb3") == started
    lab.assert_healthy()


def reconnect(lab, host, address):
    """Back on the lab network with its old address and name, as after a real cut."""
    args = ["network", "connect", "--alias", host, lab.network, lab.prefix + host]
    if lab.docker(*args[:2], "--ip", address, *args[2:], check=False).returncode != 0:
        lab.docker(*args)   # a network without a fixed subnet: Docker picks the address


# ---- 5. the primary down for a while --------------------------------------------------


@pytest.mark.full(reason="checked by make test-full only")
def test_the_standby_serves_reads_while_the_primary_is_down_and_reconnects(lab):
    started = lab.postmaster_start("pb3")
    with lab.writer("before-primary-stop"):
        time.sleep(2)
    rows = lab.assert_same_rows()
    lab.docker("stop", lab.prefix + "pb1")
    try:
        for _ in range(3):
            assert lab.db("pb3").query("SELECT pg_is_in_recovery()") == "t"
            assert lab.rows("pb3")[0] == rows
            time.sleep(1)
        whole_site = lab.playbook("site.yml")
        standby_alone = lab.playbook("site.yml", "--limit", "pb3")
    finally:
        lab.docker("start", lab.prefix + "pb1")
    # The docker connection says so for pb1 itself; the playbook stops there.
    assert_failed_cleanly(whole_site, ["pb1"], r"(failed|fatal): \[pb1\].*Container \w+ is not running")
    assert_failed_cleanly(standby_alone, ["pb3"], r"pb3 cannot resolve the primary pb1 \(pb1\)")
    assert lab.rows("pb3")[0] == rows
    # The primary's database comes back with the site (the lab's primary_bootstrap starts it) ...
    lab.converge()
    # ... and the standby reconnects by itself: no restart.
    with lab.writer("after-primary-start") as writer:
        time.sleep(2)
    assert writer.rows() > 0
    assert lab.postmaster_start("pb3") == started
    assert lab.assert_healthy() > rows


# ---- 3. the base backup killed half-way -------------------------------------------------

SLOW_BACKUP = ("-e", "standby_backup_max_rate=1M")
MARKER = "/var/lib/polardb/nvme2n1/.standby.polar_basebackup.json"
OPERATOR_FILE = "/var/lib/polardb/nvme2n1/operator-notes.txt"


def rebuild_from_scratch(lab):
    """Stop pb3's standby and remove its data directory (what an operator does to rebuild it)."""
    lab.sh("pb3", "%s/pg_ctl stop -m fast -D %s" % (lab.pg_bin, lab.standby_data), user="postgres")
    lab.sh("pb3", "rm -rf " + lab.standby_data)


def wait_for_backup_in_flight(lab, minimum_bytes=4 << 20, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        size = lab.sh("pb3", "pgrep -x pg_basebackup >/dev/null && du -sb %s 2>/dev/null | cut -f1"
                      % lab.standby_data, check=False)
        if size and int(size) >= minimum_bytes:
            return int(size)
        time.sleep(0.5)
    raise AssertionError("no base backup of %d bytes in flight within %ds" % (minimum_bytes, timeout))


def mount_listing(lab):
    return lab.sh("pb3", "ls -A %s" % lab.standby_mount).split()


def primary_identity(lab):
    return (lab.postmaster_start("pb1"), lab.system_identifier("pb1"),
            lab.sh("pb1", "md5sum %s/pg_hba.conf %s/postgresql.conf" % (lab.primary_data, lab.primary_data)))


@pytest.mark.full(reason="checked by make test-full only")
def test_a_base_backup_whose_primary_connection_dies_cleans_up_after_itself(lab):
    primary = primary_identity(lab)
    lab.sh("pb3", "echo keep me > " + OPERATOR_FILE)
    rebuild_from_scratch(lab)
    with lab.writer("backup-connection-killed"):
        process = lab.start_playbook(*lab.rerun, *SLOW_BACKUP)
        wait_for_backup_in_flight(lab)
        killed = lab.db("pb1").query(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication "
            "WHERE application_name = 'polardb.cluster base backup of pb3'")
        run = lab.finish_playbook(process)
    assert int(killed) >= 1
    assert run.returncode != 0 and run.recap["pb3"]["failed"] == 1, run.tail()
    assert re.search(r"pg_basebackup failed with rc 1", run.output), run.tail()
    assert "removed what this run had created" in run.output, run.tail()
    assert all(count == 0 for count in run.changed.values()), run.tail()
    # The module removed what it had created (the data directory), and only that.
    assert sorted(mount_listing(lab)) == sorted(["lost+found", "standby.log", "operator-notes.txt"])
    assert primary_identity(lab) == primary


@pytest.mark.full(reason="checked by make test-full only")
def test_a_base_backup_killed_half_way_is_cleaned_and_built_on_the_next_run(lab):
    primary = primary_identity(lab)
    assert lab.sh("pb3", "test -e %s || echo none" % lab.standby_data) == "none"
    with lab.writer("backup-killed"):
        process = lab.start_playbook(*lab.rerun, *SLOW_BACKUP)
        wait_for_backup_in_flight(lab)
        module_pid = json.loads(lab.sh("pb3", "cat " + MARKER))["pid"]
        # The module first, so that it cannot clean up; then what it had started.
        lab.sh("pb3", "kill -KILL %d; kill -KILL $(pgrep -x timeout) $(pgrep -x pg_basebackup)" % module_pid)
        run = lab.finish_playbook(process)
        assert run.returncode != 0 and run.recap["pb3"]["failed"] == 1, run.tail()
        # What a crash leaves: the marker and a partial data directory.
        assert lab.sh("pb3", "test -f %s && echo marker" % MARKER) == "marker"
        assert lab.sh("pb3", "test -e %s/standby.signal || echo partial" % lab.standby_data) == "partial"
        assert lab.sh("pb3", "pgrep -x pg_basebackup || echo none") == "none"
        rerun = lab.converge(*lab.rerun, "-v")
    assert "remove the leftovers of an interrupted run recorded in %s" % MARKER in rerun.output
    assert sorted(mount_listing(lab)) == sorted(["lost+found", "standby.log", "operator-notes.txt", "standby"])
    assert lab.sh("pb3", "cat " + OPERATOR_FILE) == "keep me"
    assert lab.sh("pb3", "test -f %s/standby.signal && echo standby" % lab.standby_data) == "standby"
    assert lab.system_identifier("pb3") == lab.system_identifier("pb1")
    assert primary_identity(lab) == primary
    lab.sh("pb3", "rm " + OPERATOR_FILE)
    lab.assert_healthy()
