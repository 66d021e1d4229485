"""Backups and point-in-time restore on real PolarDB 15 and PFS (playbooks/backup.yml, restore.yml).

pg_receivewal archives pb1's WAL (on PFS, in 1 GiB segments) through the slot pb3_archive into pb3's
repository; the base backup (shared data in polar_shared_data) is checked against its manifest, as
pg_verifybackup rejects it. pb3 is taken out, restored to a time T and then to the latest point: its
shared data goes onto its own PFS disk with the database stopped. A ledger is the oracle. Leaves pb3 a
streaming standby again, the archive stopped and its slot dropped.
"""
import re
import time

import faultlab
from lifecycle_steps import write

BACKUP = ("playbooks/backup.yml",)
RESTORE = ("playbooks/restore.yml", "--limit", "pb3")
SLOT = "pb3_archive"


def payloads(lab, host, tag):
    return set(lab.db(host).query("SELECT payload FROM %s WHERE tag = '%s'" % (faultlab.TABLE, tag)).split())


def drop_copies_set_aside(lab):
    for name in lab.pfs_names(lab.pfs_root):
        if name.startswith("shared_data.old"):
            lab.pfs("rm", "-r", lab.pfs_root + name)
    lab.sh("pb3", "rm -rf %s.old*" % lab.standby_data)


def test_a_polardb_backup_restores_to_a_time_and_to_the_latest_point_onto_pb3_s_own_pfs_disk(lab):
    backup = lab.playbook(*BACKUP)
    assert backup.returncode == 0, backup.tail()
    assert re.search(r"Backup \d{8}T\d{6}Z taken in [\d.]+ s \([\d.]+ [MG]B, verified with manifest\)",
                     backup.output), backup.tail()

    run_id = int(time.time())  # the table outlives a lab reused for a second run: tags of this run only
    before = write(lab, "pitr-before-%d" % run_id)
    time.sleep(1)
    target = lab.db("pb1").query("SELECT now()")
    time.sleep(1)
    after = write(lab, "pitr-after-%d" % run_id)
    lab.wait_archived()
    committed_by_then = payloads(lab, "pb1", before.tag)

    assert lab.playbook("playbooks/remove.yml", "--limit", "pb3").returncode == 0
    to_time = lab.playbook(*RESTORE, "-e", "restore_target_time='%s'" % target, timeout=1800)
    assert to_time.returncode == 0, to_time.tail()
    assert "a primary of its own on timeline" in to_time.output, to_time.tail()
    assert lab.db("pb3").query("SELECT pg_is_in_recovery()") == "f"
    assert before.missing(lab.db("pb3")) == []
    assert payloads(lab, "pb3", before.tag) == committed_by_then
    assert payloads(lab, "pb3", after.tag) == set()
    # its own disk, its own shared data: nothing of pb1's shared disk was touched
    assert lab.db("pb3").query("SHOW polar_disk_name") == lab.disk

    # Again to the latest point: the restored server stopped by hand; its local directory and its shared
    # data on PFS are both set aside before the new copy.
    lab.sh("pb3", "%s/pg_ctl stop -m fast -D %s" % (lab.bin, lab.standby_data), user="postgres")
    latest = lab.playbook(*RESTORE, timeout=1800)
    assert latest.returncode == 0, latest.tail()
    assert before.missing(lab.db("pb3")) == [] and after.missing(lab.db("pb3")) == []
    kept = [name for name in lab.pfs_names(lab.pfs_root) if name.startswith("shared_data.old")]
    assert kept, lab.pfs_names(lab.pfs_root)

    # A standby again. The copies set aside go first: with the restored servers' 1 GiB WAL segments,
    # three copies of the shared data do not fit on the lab's 20 GiB PFS disk.
    drop_copies_set_aside(lab)
    rebuilt = lab.playbook("playbooks/rebuild.yml", "--limit", "pb3", "-e", "rebuild_promoted=true", timeout=1800)
    assert rebuilt.returncode == 0, rebuilt.tail()
    drop_copies_set_aside(lab)
    stopped = lab.playbook(*BACKUP, "-e", "backup_state=absent")
    assert stopped.returncode == 0, stopped.tail()
    assert lab.db("pb1").query("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'" % SLOT) == "0"
    lab.assert_healthy()
