"""pb1 and pb2 share one PFS disk: pb2's restart, pb1's restart, a run on pb2, pb2 lost, bad layouts."""
import time

import pytest

import faultlab

SHARED_ALIAS = "/dev/nvme1n1"
SHARED_IMAGE = "/shared/VirtualDisk.img"
SHARED_DATA = "/nvme1n1/shared_data/"
REPLICA_DATA = "/home/postgres/replica"
BOTH = ("site.yml", "--limit", "pb1,pb2")


def shared_tree(lab, host):
    """The shared data's top level, as host's pfs lists it (names only: mtimes are PFS's)."""
    listing = lab.sh(host, "pfs -C disk ls %s" % SHARED_DATA)
    return sorted(line.split()[-1] for line in listing.splitlines() if not line.startswith("total"))


def shared_state(lab):
    """What a run from pb2 must leave as it was: the disk's tree, pb1's server, pb2's settings."""
    return dict(tree=shared_tree(lab, "pb1"), pb1_started=lab.postmaster_start("pb1"),
                pb1_loop=lab.sh("pb1", "readlink -f " + SHARED_ALIAS),
                pb2=lab.sh("pb2", "cd %s && md5sum postgresql.conf polardb_replica.conf replica.signal" % REPLICA_DATA),
                pb2_started=lab.postmaster_start("pb2"))


@pytest.mark.full(reason="checked by make test-full only")
def test_a_restarted_replica_container_comes_back_on_the_shared_disk(lab):
    loop = lab.sh("pb2", "readlink -f " + SHARED_ALIAS)
    assert loop == lab.sh("pb1", "readlink -f " + SHARED_ALIAS), "one loop device, seen from both"
    pb1_started = lab.postmaster_start("pb1")
    with lab.writer("replica-restart") as writer:
        time.sleep(1)
        lab.docker("restart", lab.prefix + "pb2")
        assert lab.sh("pb2", "test -e %s || echo gone" % SHARED_ALIAS) == "gone"
        assert lab.sh("pb2", "pgrep -x postgres || echo none") == "none"
        rows_meanwhile = writer.rows()
        run = lab.converge(*BOTH)
    changed = faultlab.changed_tasks(run, "pb2")
    for task in ("Attach the disk image to a loop device behind its alias", "Start pfsd for the disk"):
        assert task in changed, (task, changed, run.tail())
    assert faultlab.changed_tasks(run, "pb1") == [], run.tail()
    assert lab.sh("pb2", "readlink -f " + SHARED_ALIAS) == loop, "the same loop device, not a second attachment"
    assert lab.postmaster_start("pb1") == pb1_started, "pb1 was not restarted"
    assert writer.rows() > rows_meanwhile > 20
    lab.assert_healthy("pb2")
    lab.assert_healthy("pb3")


@pytest.mark.full(reason="checked by make test-full only")
def test_the_followers_reconnect_by_themselves_after_the_primary_restarts(lab):
    with lab.writer("primary-restart"):
        time.sleep(1)
        lab.sh("pb1", "%s/pg_ctl restart -m fast -w -D /home/postgres/primary -l /home/postgres/primary.log"
               % lab.bin, user="postgres")
        time.sleep(1)
    # no run: both walreceivers find pb1 again
    lab.assert_healthy("pb2")
    lab.assert_healthy("pb3")


def test_a_run_never_formats_the_shared_disk_from_the_replica(lab):
    before = shared_state(lab)
    run = lab.playbook("site.yml", "--limit", "pb2", "-e", "storage_reformat=true storage_force=true")
    assert run.returncode == 0, run.tail()
    assert run.changed.get("pb2") == 0, run.tail()
    assert "Format the disk with PFS" not in faultlab.changed_tasks(run, "pb2")
    assert shared_state(lab) == before
    lab.assert_healthy("pb2")


@pytest.mark.full(reason="checked by make test-full only")
def test_losing_the_replica_stops_neither_the_primary_nor_the_standby(lab):
    with lab.writer("replica-lost") as writer:
        lab.docker("stop", lab.prefix + "pb2")
        try:
            rows_when_lost = writer.rows()
            time.sleep(3)
            assert writer.rows() > rows_when_lost, "pb1 still takes writes"
            lab.assert_same_rows("pb3")
        finally:
            lab.docker("start", lab.prefix + "pb2")
    lab.converge(*BOTH)
    lab.assert_healthy("pb2")
    lab.assert_healthy("pb3")


@pytest.mark.parametrize("host_vars, message", [
    ({"pb2": {"polardb_host_id": 1}},
     "pb1 and pb2 both have polardb_host_id 1; hosts sharing a disk need distinct ids"),
    ({"pb2": {"polardb_disk_alias": "/dev/nvme9n1"}},
     "pb1 names the shared disk /dev/nvme1n1 but pb2 names it /dev/nvme9n1"),
], ids=["same-host-id", "disk-named-differently"])
@pytest.mark.full(reason="checked by make test-full only")
def test_a_bad_shared_disk_layout_fails_every_host_before_any_change(lab, host_vars, message):
    before = shared_state(lab), lab.fingerprint()
    inventory = lab.inventory("bad-layout", host_vars=host_vars)
    # the whole site stops at the primary's first play; each other host, run alone, stops as well
    for hosts in ("pb1,pb2,pb3", "pb2", "pb3"):
        run = lab.playbook("-i", inventory, "site.yml", "--limit", hosts)
        assert run.returncode != 0, run.tail()
        assert message in " ".join(run.output.split()), run.tail()
        assert all(count == 0 for count in run.changed.values()), run.tail()
        assert [host for host, counts in run.recap.items() if counts["failed"]] == [hosts.split(",")[0]], run.tail()
    assert (shared_state(lab), lab.fingerprint()) == before
