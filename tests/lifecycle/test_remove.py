"""playbooks/remove.yml: a standby leaves the cluster, and site.yml builds it again.

In file order, on the session's converged lab: refusals first, then --check,
the removal under a writer, a second removal, the standby built again, and a
removal that deletes the disk image too.
"""
import re
import time

import pytest

from faultlab import assert_refused, changed_tasks


def test_remove_refuses_anything_but_standbys_named_with_limit(lab):
    assert_refused(lab.playbook("playbooks/remove.yml", "--limit", "pb1"),
                   r"pb1 is the primary: remove.yml only removes standbys", r"--limit pb3")
    assert_refused(lab.playbook("playbooks/remove.yml", "--limit", "pb2,pb3"), r"pb2 is a replica")
    assert_refused(lab.playbook("playbooks/remove.yml"), r"none was given")
    assert_refused(lab.playbook(*lab.remove, "-e", "remove_disk=maybe"), r"remove_disk must be true or false")
    assert lab.slots() == "pb2:true,pb3:true"


def test_check_mode_reports_the_removal_and_changes_nothing(lab):
    before = lab.fingerprint()
    run = lab.playbook(*lab.remove, "--check")
    assert run.returncode == 0, run.tail()
    would = changed_tasks(run, "pb3") + changed_tasks(run, "pb3 -> pb1")
    for task in ("Stop the standby's database", "Discard the standby's data directory",
                 "Drop the replication slot of pb3", "Unmount the disk", "Detach the disk image and remove its alias"):
        assert task in would, "%r not reported\n%s" % (task, run.tail())
    # pb3 stays the backup host: its replication entry stays for its archive; any other entry of pb3 (pg_rewind's
    # database line) would go, and the primary reload for it.
    others = [database for database in lab.hba_databases_of("pb3").split() if database != "replication"]
    assert ("Remove the pg_hba.conf entries of pb3" in would) == bool(others), run.tail()
    reloaded = re.search(r"RUNNING HANDLER \[[\w.]+ : Reload the primary for a removed follower\] \**\n"
                         r"changed: \[pb3 -> pb1\]", run.output)
    assert bool(reloaded) == bool(others), run.tail()
    assert lab.fingerprint() == before
    lab.assert_healthy()


@pytest.mark.full(reason="checked by make test-full only")
def test_remove_takes_the_standby_out_and_leaves_pb1_and_pb2_alone(lab):
    image = lab.image()
    image_stat = image.stat()
    assert lab.devices_backed_by(image_stat), "pb3's image is not attached before the removal"
    pb3_hba = lab.hba_rules_of("pb3")
    assert pb3_hba, "pb1 has no pg_hba.conf rule for pb3 before the removal"
    before = dict(conf_loaded=lab.conf_loaded(), pb1=lab.postmaster_start("pb1"), pb2=lab.postmaster_start("pb2"),
                  other_entries=lab.hba_databases_of("pb3").replace("replication", "").split())

    with lab.writer("remove") as writer:
        time.sleep(1)
        run = lab.playbook(*lab.remove)
        time.sleep(1)
    assert run.returncode == 0, run.tail()
    assert writer.rows() > 20

    # On pb1: no slot, no pg_hba.conf rule, and the file reloaded.
    assert lab.slots() == "pb2:true"
    # pb3 stays the backup host (group backup): its archive keeps the replication rule, nothing else.
    assert lab.hba_databases_of("pb3") == "replication"
    assert (lab.conf_loaded() > before["conf_loaded"]) == bool(before["other_entries"])
    # On pb3: no database, no alias, no mount, no loop device behind its image; the image stays.
    assert not lab.postgres_runs("pb3")
    assert lab.sh("pb3", "ls -A %s; test ! -e %s && test ! -L %s && echo gone"
                  % (lab.standby_mount, lab.alias, lab.alias)) == "gone"
    assert lab.sh("pb3", "findmnt -n --mountpoint %s; grep -c nvme2n1 /etc/fstab" % lab.standby_mount,
                  check=False) == "0"
    assert lab.sh("pb3", "test ! -e %s && echo gone" % lab.passfile) == "gone"
    assert lab.devices_backed_by(image_stat) == []
    assert image.is_file() and image.stat().st_ino == image_stat.st_ino
    # pb1 and pb2 neither restarted; pb2 streams with every row.
    assert (lab.postmaster_start("pb1"), lab.postmaster_start("pb2")) == (before["pb1"], before["pb2"])
    lab.wait_streaming("pb2")
    lab.assert_same_rows("pb2")

    again = lab.playbook(*lab.remove)
    assert again.returncode == 0, again.tail()
    assert again.changed == {"pb3": 0}, again.tail()


@pytest.mark.full(reason="checked by make test-full only")
def test_site_builds_the_removed_standby_again_from_a_fresh_base_backup(lab):
    pb1_started = lab.postmaster_start("pb1")
    with lab.writer("rebuilt"):
        time.sleep(1)
        run = lab.converge()
        time.sleep(1)
    assert "Take the base backup of the primary" in changed_tasks(run, "pb3"), run.tail()
    lab.assert_healthy()
    assert lab.system_identifier("pb3") == lab.system_identifier("pb1")
    assert lab.postmaster_start("pb1") == pb1_started
    assert lab.slots() == "pb2:true,pb3:true"
    assert lab.hba_rules_of("pb3")


@pytest.mark.full(reason="checked by make test-full only")
def test_remove_disk_deletes_the_image_too(lab):
    image = lab.image()
    image_stat = image.stat()
    run = lab.playbook(*lab.remove, "-e", "remove_disk=true")
    assert run.returncode == 0, run.tail()
    assert not image.exists()
    assert lab.devices_backed_by(image_stat) == []
    assert lab.slots() == "pb2:true"
    assert not lab.postgres_runs("pb3")
