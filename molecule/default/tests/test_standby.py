"""The converged lab: pb3 is a streaming standby on its own disk."""
import uuid

from labtools import loop_device_behind_alias, run_playbook

ALIAS = "/dev/nvme2n1"
MOUNT_POINT = "/var/lib/polardb/nvme2n1"


def test_alias_points_at_a_loop_device_with_direct_io(pb3):
    loop_device_behind_alias(pb3, ALIAS)


def test_standby_filesystem_is_mounted_from_its_disk(pb3):
    mounted = pb3.check_output("findmnt -n -o MAJ:MIN --mountpoint %s", MOUNT_POINT)
    assert mounted.strip() == pb3.check_output("mountpoint -x %s", ALIAS).strip()
    assert pb3.file(MOUNT_POINT + "/standby/PG_VERSION").exists


def test_standby_is_in_recovery(standby_db):
    assert standby_db.query("SELECT pg_is_in_recovery()") == "t"


def test_primary_slot_of_the_standby_is_active(primary_db):
    assert primary_db.query(
        "SELECT slot_type || ',' || active FROM pg_replication_slots WHERE slot_name = 'pb3'"
    ) == "physical,true"


def test_replica_and_standby_stream_from_the_primary_over_tls(primary_db):
    for follower in ("pb2", "pb3"):
        primary_db.wait_for(
            "SELECT state || ',' || ssl || ',' || client_dn FROM pg_stat_replication JOIN pg_stat_ssl USING (pid)"
            " WHERE application_name = '%s'" % follower,
            "streaming,true,/CN=replicator")


def test_rows_written_on_the_primary_arrive_on_the_standby(primary_db, standby_db, replica_db):
    marker = uuid.uuid4().hex
    primary_db.query("CREATE TABLE IF NOT EXISTS lab_rows (marker text, n int)")
    primary_db.query("INSERT INTO lab_rows SELECT '%s', g FROM generate_series(1, 500) g" % marker)
    count = "SELECT count(*) FROM lab_rows WHERE marker = '%s'" % marker
    assert standby_db.wait_for(count, "500") == "500"
    assert replica_db.wait_for(count, "500") == "500"


def test_password_file_is_private(pb3):
    passfile = pb3.file("/var/lib/postgresql/.pgpass.pb3")
    assert passfile.user == "postgres"
    assert passfile.mode == 0o600


def test_check_mode_on_the_converged_lab_reports_no_change(inventory):
    run = run_playbook("-i", inventory, "site.yml", "--check", timeout=600)
    assert run.returncode == 0, run.tail()
    assert run.changed and set(run.changed.values()) == {0}, run.tail()
