"""pb1 (primary) and pb2 (read-only replica) on one PFS disk, as in the seed's diagram."""
import pytest
import testinfra

from labtools import PREFIX, loop_device_behind_alias

DISK = "nvme1n1"
ALIAS = "/dev/" + DISK
IMAGE = "/shared/VirtualDisk.img"


@pytest.fixture(scope="module", params=["pb1", "pb2"])
def sharing_host(request):
    return testinfra.get_host("docker://%s%s" % (PREFIX, request.param))


def listing(host, path):
    return host.check_output("pfs -C disk ls %s", path)


def test_both_hosts_see_the_same_loop_device_behind_the_same_alias(sharing_host):
    pb1 = testinfra.get_host("docker://%spb1" % PREFIX)
    assert loop_device_behind_alias(sharing_host, ALIAS, IMAGE) == loop_device_behind_alias(pb1, ALIAS, IMAGE)


def test_both_hosts_list_the_same_shared_data_tree(sharing_host):
    pb1 = testinfra.get_host("docker://%spb1" % PREFIX)
    names = {line.split()[-1] for line in listing(sharing_host, "/%s/shared_data/" % DISK).splitlines()
             if not line.startswith("total")}
    assert {"base", "global", "pg_wal", "pg_xact"} <= names
    assert listing(sharing_host, "/%s/shared_data/base/" % DISK) == listing(pb1, "/%s/shared_data/base/" % DISK)


def test_each_host_runs_its_own_pfsd_for_the_disk(sharing_host):
    assert sharing_host.run("flock -n /var/run/pfsd/pfsd_%s.pid true", DISK).rc == 1


def test_the_primary_writes_and_the_replica_only_reads_the_disk(primary_db, replica_db):
    assert primary_db.query("SELECT current_setting('polar_hostid') || ' ' || pg_is_in_recovery()") == "1 false"
    assert replica_db.query("SELECT current_setting('polar_hostid') || ' ' || pg_is_in_recovery()") == "2 true"
    for database in (primary_db, replica_db):
        assert database.query("SHOW polar_datadir") == "/%s/shared_data/" % DISK
    pb2 = testinfra.get_host("docker://%spb2" % PREFIX)
    assert "mount pfs %s readonly mode success" % DISK in pb2.check_output("cat /home/postgres/replica.log")
