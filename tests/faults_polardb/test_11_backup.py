"""Backups and point-in-time restore on real PolarDB 15 and PFS (playbooks/backup.yml, restore.yml).

pg_receivewal archives pb1's WAL (on PFS, in 1 GiB segments) through the slot pb3_archive into pb3's
repository; the base backup (shared data in polar_shared_data) is checked against its manifest, as
pg_verifybackup rejects it. pb3 is taken out, restored to a time T and then to the latest point: its
shared data goes onto its own PFS disk with the database stopped; then restored as pb1's standby again. A
ledger is the oracle. Then the faults: the archive down for a while, a backup killed half-way, a damaged
and a missing segment. Leaves pb3 a streaming standby, the archive stopped and its slot dropped.
"""
import re
import time

import faultlab
from backup_steps import (ARCHIVE, BACKUP, REPOSITORY, backup_status, damage_then_remove, kill_backup_half_way,
                          switch_segments)
from lifecycle_steps import write

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

    # pb1's standby again, from the newest backup and the archive (no copy of pb1) while a client writes on
    # pb1. The copies set aside go first: with the restored servers' 1 GiB WAL segments, three copies of the
    # shared data do not fit on the lab's 20 GiB PFS disk.
    lab.sh("pb3", "%s/pg_ctl stop -m fast -D %s" % (lab.bin, lab.standby_data), user="postgres")
    drop_copies_set_aside(lab)
    with lab.ledger("restore-standby-%d" % run_id) as ledger:
        time.sleep(1)
        as_standby = lab.playbook(*RESTORE, "-e", "restore_as=standby", timeout=1800)
        time.sleep(1)
    assert as_standby.returncode == 0, as_standby.tail()
    assert "as the standby of pb1: it streams" in " ".join(as_standby.output.split()), as_standby.tail()
    # its copy is the backup's (pg_basebackup's label), not a new one of pb1
    label = lab.sh("pb3", "cd %s && cat backup_label.old backup_label 2>/dev/null || true" % lab.standby_data)
    assert "LABEL: polardb.cluster " in label, label
    lab.assert_healthy()
    assert ledger.acknowledged() and ledger.missing(lab.db("pb3")) == []
    drop_copies_set_aside(lab)


def test_b_an_archive_that_stopped_for_a_while_catches_up_without_a_gap(lab):
    lab.sh("pb3", "pkill -INT -x pg_receivewal")
    time.sleep(1)
    ledger = write(lab, "archive-down-%d" % int(time.time()))
    down = backup_status(lab)["backup"]["archive"]
    assert down["streaming"] is False and down["receiver_pid"] is None and down["lag_bytes"] > 0, down
    assert lab.db("pb1").query("SELECT pg_is_in_recovery()") == "f"

    back = lab.playbook(*BACKUP, "-e", "backup_max_age=86400")
    assert back.returncode == 0 and "no gap" in back.output, back.tail()
    lab.wait_archived()
    up = backup_status(lab)["backup"]["archive"]
    assert up["streaming"] is True and up["sound"] is True and up["gaps"] == [], up
    assert ledger.acknowledged()


def test_c_a_backup_killed_half_way_does_not_count_and_the_next_run_clears_it(lab):
    last = backup_status(lab)["backup"]["last_backup"]["id"]
    partial = kill_backup_half_way(lab)
    status = backup_status(lab)["backup"]
    assert status["last_backup"]["id"] == last and status["interrupted"] == [partial], status

    again = lab.playbook(*BACKUP, "-e", "backup_keep=1")
    assert again.returncode == 0, again.tail()
    assert lab.sh("pb3", "ls -d %s/base/*.partial 2>/dev/null || true" % REPOSITORY) == ""
    assert backup_status(lab)["backup"]["last_backup"]["id"] != last


def test_d_a_damaged_or_missing_1_gib_segment_is_named_and_a_restore_to_the_latest_point_refuses(lab):
    # PolarDB's segments are 1 GiB: two switches make a complete segment between the backup's and the newest
    first, middle = switch_segments(lab, 2)
    lab.wait_archived()
    damage_then_remove(lab, middle)
    # checked before anything moves, even while pb3 serves as pb1's standby (which it goes on doing)
    postmaster = lab.postmaster_start("pb3")
    refused = lab.playbook(*RESTORE)
    faultlab.assert_refused(refused, r"The WAL archive misses %s after backup" % middle)
    assert lab.postmaster_start("pb3") == postmaster and "shared_data" in lab.pfs_names(lab.pfs_root)

    # a new backup past the gap, keeping only it: the archive is whole again
    healed = lab.playbook(*BACKUP, "-e", "backup_keep=1")
    assert healed.returncode == 0, healed.tail()
    assert first not in lab.sh("pb3", "ls %s" % ARCHIVE).split()
    # a restore into another directory would still replace the one shared data directory pb3's server uses
    beside = lab.playbook(*RESTORE, "-e", "restore_data_dir=/var/lib/polardb/restored")
    faultlab.assert_refused(beside, r"A server runs in .*%s" % lab.standby_data)
    assert lab.postmaster_start("pb3") == postmaster and "shared_data" in lab.pfs_names(lab.pfs_root)
    lab.assert_healthy()


def test_z_the_archive_stops_and_its_slot_goes_when_asked(lab):
    stopped = lab.playbook(*BACKUP, "-e", "backup_state=absent")
    assert stopped.returncode == 0, stopped.tail()
    assert lab.db("pb1").query("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'" % SLOT) == "0"
    assert lab.sh("pb3", "pgrep -x pg_receivewal || true") == ""
    lab.assert_healthy()
