"""The converged PolarDB lab: pb3 is a standby whose shared data lives on its own PFS disk."""
import re
import uuid

from labtools import loop_device_behind_alias

ALIAS = "/dev/nvme2n1"
DISK = "nvme2n1"


def test_alias_points_at_a_loop_device_with_direct_io(pb3):
    loop_device_behind_alias(pb3, ALIAS)


def test_pfsd_serves_the_standby_disk(pb3):
    daemons = pb3.check_output("pgrep -a pfsdaemon")
    assert re.search(r"pfsdaemon .*-p %s( |$)" % DISK, daemons)
    # pfsdaemon writes its pid file before forking: the lock, not the number, ties it to the daemon
    assert pb3.run("flock -n /var/run/pfsd/pfsd_%s.pid true", DISK).rc == 1
    # the standby's postgres is a client of pfsd: its pid file sits in the disk's client folder
    postmaster = pb3.check_output("head -1 /home/postgres/standby/postmaster.pid")
    assert pb3.file("/var/run/pfsd/%s/%s.pid" % (DISK, postmaster)).exists


def test_shared_data_is_on_pfs_without_standby_signal(pb3):
    listing = pb3.check_output("pfs -C disk ls /%s/shared_data/", DISK)
    names = {line.split()[-1] for line in listing.splitlines() if not line.startswith("total")}
    assert {"base", "global", "pg_wal"} <= names
    assert "standby.signal" not in names
    assert pb3.file("/home/postgres/standby/standby.signal").exists


def test_standby_is_in_recovery_and_its_slot_active(standby_db, primary_db):
    assert standby_db.query("SELECT pg_is_in_recovery()") == "t"
    primary_db.wait_for("SELECT active FROM pg_replication_slots WHERE slot_name = 'pb3'", "t")


def test_the_replica_and_the_standby_stream_over_tls(primary_db):
    for follower in ("pb2", "pb3"):
        primary_db.wait_for("SELECT ssl FROM pg_stat_replication JOIN pg_stat_ssl USING (pid) "
                            "WHERE application_name = '%s'" % follower, "t")


def test_rows_written_on_the_primary_arrive_on_the_standby(primary_db, standby_db):
    marker = uuid.uuid4().hex
    primary_db.query("CREATE TABLE IF NOT EXISTS lab_rows (marker text, n int)")
    primary_db.query("INSERT INTO lab_rows SELECT '%s', g FROM generate_series(1, 500) g" % marker)
    count = "SELECT count(*) FROM lab_rows WHERE marker = '%s'" % marker
    assert standby_db.wait_for(count, "500") == "500"


def test_rows_written_on_the_primary_are_read_on_the_replica(primary_db, replica_db):
    assert replica_db.query("SELECT pg_is_in_recovery()") == "t"
    marker = uuid.uuid4().hex
    primary_db.query("CREATE TABLE IF NOT EXISTS lab_rows (marker text, n int)")
    primary_db.query("INSERT INTO lab_rows SELECT '%s', g FROM generate_series(1, 500) g" % marker)
    checksum = "SELECT md5(string_agg(n::text, ',' ORDER BY n)) FROM lab_rows WHERE marker = '%s'" % marker
    expected = primary_db.query(checksum)
    assert replica_db.wait_for(checksum, expected) == expected
