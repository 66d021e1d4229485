"""playbooks/remove.yml on real PolarDB: pb3 leaves (its shared data, pfsd and PFS disk with it),
pb1 and pb2 stay as they were, and site.yml builds pb3 again from a fresh base backup."""
import time

import pytest

import faultlab

REMOVE = ("playbooks/remove.yml", "--limit", "pb3")


def slots(lab):
    return lab.db("pb1").query("SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots")


@pytest.mark.full(reason="checked by make test-full only")
def test_remove_takes_pb3_and_its_pfs_disk_out_and_site_builds_it_again(lab):
    image = lab.data / "pb3" / "VirtualDisk_standby.img"
    inode = image.stat().st_ino
    started = dict(pb1=lab.postmaster_start("pb1"), pb2=lab.postmaster_start("pb2"))

    checked = lab.playbook(*REMOVE, "--check")
    assert checked.returncode == 0 and lab.pfsd_pid() and slots(lab) == "pb2,pb3", checked.tail()

    with lab.writer("remove"):
        run = lab.converge(*REMOVE)
    assert slots(lab) == "pb2"
    # pb3 stays the backup host (group backup): only its replication entry, which its archive uses, is left.
    assert lab.sh("pb1", "grep 'polardb.cluster follower pb3' %s/pg_hba.conf | grep -Evc '^host(ssl)? +replication ' "
                         "|| true" % lab.primary_data) == "0"
    assert lab.sh("pb3", "pgrep -x postgres || echo none", check=False) == "none"
    assert lab.pfsd_pid() == "", run.tail()
    assert lab.sh("pb3", "test ! -e %s && echo gone" % lab.alias) == "gone"
    assert lab.attachments(lab.image) == ""
    assert image.is_file() and image.stat().st_ino == inode
    assert (lab.postmaster_start("pb1"), lab.postmaster_start("pb2")) == (started["pb1"], started["pb2"])
    lab.assert_same_rows("pb2")
    assert all(count == 0 for count in lab.converge(*REMOVE).changed.values())

    with lab.writer("rebuilt"):
        time.sleep(1)
        rebuilt = lab.converge()
    assert "Take the base backup of the primary" in faultlab.changed_tasks(rebuilt, "pb3"), rebuilt.tail()
    lab.assert_healthy()
    assert slots(lab) == "pb2,pb3"
