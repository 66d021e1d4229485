"""Backups and point-in-time restore (playbooks/backup.yml, restore.yml) on the PostgreSQL engine.

pb3 is the backup host: pg_receivewal archives pb1's WAL through the slot pb3_archive into
/var/lib/polardb-backup/wal, and each backup.yml takes a verified base backup into base/. A ledger is the
oracle: a restore to time T holds exactly the rows committed by T, a restore to the latest point every
acknowledged row. Runs after test_2 (pb1 the primary, pb3 its standby) and leaves the lab so, with the
archive stopped and its slot dropped (the last case).
"""
import re
import time

import faultlab
from backup_steps import (ARCHIVE, BACKUP, REPOSITORY, backup_status, damage_then_remove, kill_backup_half_way,
                          switch_segments)
from lifecycle_steps import write

SLOT = "pb3_archive"
RESTORE = ("playbooks/restore.yml", "--limit", "pb3")
# A restore beside the running standby: its own directory on pb3's disk and its own port.
SIDE = ("-e", "restore_data_dir=/var/lib/polardb/nvme2n1/restored", "-e", "restore_listen_port=5499")
PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"


def payloads(lab, host, tag, port=5432):
    sql = "SELECT payload FROM %s WHERE tag = '%s'" % (faultlab.TABLE, tag)
    return set(lab.sh(host, "psql -X -At -p %d -d postgres -c \"%s\"" % (port, sql), user="postgres").split())


def restored_side(lab):
    lab.sh("pb3", "%s stop -m fast -D /var/lib/polardb/nvme2n1/restored >/dev/null 2>&1; "
                  "rm -rf /var/lib/polardb/nvme2n1/restored*" % PG_CTL)


def test_the_archive_streams_through_its_own_slot_and_each_backup_is_verified(lab):
    first = lab.playbook(*BACKUP)
    assert first.returncode == 0, first.tail()
    assert re.search(r"Backup \d{8}T\d{6}Z taken in [\d.]+ s \([\d.]+ MB, verified with pg_verifybackup\)",
                     first.output), first.tail()
    assert lab.db("pb1").query("SELECT active FROM pg_replication_slots WHERE slot_name = '%s'" % SLOT) == "t"
    second = lab.playbook(*BACKUP, "-e", "backup_keep=1")
    assert second.returncode == 0, second.tail()
    status = backup_status(lab)["backup"]
    assert status["backups"] == 1 and status["last_backup"]["verified_with"] == "pg_verifybackup"
    assert status["archive"]["streaming"] is True and status["archive"]["sound"] is True
    assert status["archive"]["oldest"] <= status["last_backup"]["start_segment"]
    # retention: the first backup and the WAL only it needed are gone
    kept = lab.sh("pb3", "ls %s/base" % REPOSITORY).split()
    assert kept == [status["last_backup"]["id"]]
    segments = [name for name in lab.sh("pb3", "ls %s" % ARCHIVE).split() if re.match(r"^[0-9A-F]{24}", name)]
    assert min(segments) == status["last_backup"]["start_segment"]
    # a run that only has to keep the archive going takes no backup
    kept_going = lab.playbook(*BACKUP, "-e", "backup_max_age=86400")
    assert kept_going.returncode == 0 and "No backup taken" in kept_going.output, kept_going.tail()


def test_restore_to_a_time_holds_exactly_what_was_committed_by_then_and_to_the_latest_every_acknowledged_row(lab):
    assert lab.playbook(*BACKUP).returncode == 0
    run_id = int(time.time())  # the table outlives a lab reused for a second run: tags of this run only
    before = write(lab, "pitr-before-%d" % run_id)
    time.sleep(1)
    target = lab.db("pb1").query("SELECT now()")
    point = "before_%d" % run_id
    target_lsn = lab.db("pb1").query("SELECT pg_create_restore_point('%s')" % point)
    time.sleep(1)
    after = write(lab, "pitr-after-%d" % run_id)
    lab.wait_archived()
    committed_by_then = payloads(lab, "pb1", before.tag)
    everything = lab.db("pb1").query("SELECT count(*) FROM %s" % faultlab.TABLE)

    removed = lab.playbook("playbooks/remove.yml", "--limit", "pb3")
    assert removed.returncode == 0, removed.tail()
    to_time = lab.playbook(*RESTORE, "-e", "restore_target_time='%s'" % target)
    assert to_time.returncode == 0, to_time.tail()
    assert re.search(r"Restored pb3 from backup \d{8}T\d{6}Z and \d+ archived WAL segments in [\d.]+ s, to time %s: "
                     r"a primary of its own on timeline \d+" % re.escape(target), " ".join(to_time.output.split())), \
        to_time.tail()
    assert lab.db("pb3").query("SELECT pg_is_in_recovery()") == "f"
    assert before.missing(lab.db("pb3")) == []
    assert payloads(lab, "pb3", before.tag) == committed_by_then
    assert payloads(lab, "pb3", after.tag) == set()
    receipt = backup_status(lab)["last_restore"]
    assert receipt["target"] == "time %s" % target and receipt["timeline"] >= 2

    # To the restore point and to its LSN, then to the latest point: each time the restored server is
    # stopped by hand (remove.yml never stops a primary), and restore.yml moves its directory aside whole.
    for how in ("restore_target_name=%s" % point, "restore_target_lsn=%s" % target_lsn):
        lab.sh("pb3", "%s stop -m fast -D /var/lib/polardb/nvme2n1/standby" % PG_CTL, user="postgres")
        to_point = lab.playbook(*RESTORE, "-e", how)
        assert to_point.returncode == 0, to_point.tail()
        assert payloads(lab, "pb3", before.tag) == committed_by_then, how
        assert payloads(lab, "pb3", after.tag) == set(), how
    lab.sh("pb3", "%s stop -m fast -D /var/lib/polardb/nvme2n1/standby" % PG_CTL, user="postgres")
    latest = lab.playbook(*RESTORE)
    assert latest.returncode == 0, latest.tail()
    assert "to the latest point archived" in latest.output and "Its former directory is kept in" in latest.output
    assert before.missing(lab.db("pb3")) == [] and after.missing(lab.db("pb3")) == []
    assert lab.db("pb3").query("SELECT count(*) FROM %s" % faultlab.TABLE) == everything

    # pb1's standby again from the newest backup and the archive, no copy of pb1, while a client writes on
    # pb1: every acknowledged row reaches pb3, and what pb3 held as a primary of its own is kept aside.
    lab.sh("pb3", "%s stop -m fast -D /var/lib/polardb/nvme2n1/standby" % PG_CTL, user="postgres")
    with lab.ledger("restore-standby-%d" % run_id) as ledger:
        time.sleep(1)
        as_standby = lab.playbook(*RESTORE, "-e", "restore_as=standby")
        time.sleep(1)
    assert as_standby.returncode == 0, as_standby.tail()
    assert re.search(r"Restored pb3 from backup \d{8}T\d{6}Z and \d+ archived WAL segments in [\d.]+ s as the "
                     r"standby of pb1: it streams", " ".join(as_standby.output.split())), as_standby.tail()
    # its copy is the backup's (pg_basebackup's label), not a new one of pb1
    label = lab.sh("pb3", "cd /var/lib/polardb/nvme2n1/standby && cat backup_label.old backup_label 2>/dev/null; true")
    assert "LABEL: polardb.cluster " in label, label
    lab.assert_healthy()
    assert ledger.acknowledged() and ledger.missing(lab.db("pb3")) == []
    assert backup_status(lab)["last_restore"]["target"] == "standby of pb1"


def test_a_damaged_or_missing_segment_is_named_and_a_restore_past_it_fails_loudly(lab):
    assert lab.playbook(*BACKUP).returncode == 0
    old_backup = backup_status(lab)["backup"]["last_backup"]["id"]
    first, middle, _last = switch_segments(lab, 3)
    time.sleep(1)
    past_the_gap = lab.db("pb1").query("SELECT now()")
    switch_segments(lab, 1)
    lab.wait_archived()

    # bytes overwritten in the middle of the archive, then the segment gone: each named; a restore to the
    # latest point then refuses before anything moves
    damage_then_remove(lab, middle)
    try:
        refused = lab.playbook(*RESTORE, *SIDE, "-e", "restore_backup=%s" % old_backup)
        faultlab.assert_refused(refused, r"The WAL archive misses %s after backup %s" % (middle, old_backup))
        assert lab.sh("pb3", "ls -d /var/lib/polardb/nvme2n1/restored 2>/dev/null || true") == ""
        # to a time past the gap: PostgreSQL runs out of WAL first, and the restore says so instead of
        # promoting a server that stopped early
        stopped = lab.playbook(*RESTORE, *SIDE, "-e", "restore_backup=%s" % old_backup,
                               "-e", "restore_target_time='%s'" % past_the_gap)
        assert stopped.returncode != 0
        assert "the WAL archive ended before the recovery target" in stopped.output, stopped.tail()
    finally:
        restored_side(lab)

    # a new backup past the gap, keeping only it: the archive is whole again
    healed = lab.playbook(*BACKUP, "-e", "backup_keep=1")
    assert healed.returncode == 0, healed.tail()
    assert first not in lab.sh("pb3", "ls %s" % ARCHIVE).split()
    lab.assert_healthy()


def test_an_archive_that_stopped_for_a_while_catches_up_without_a_gap(lab):
    lab.sh("pb3", "pkill -INT -x pg_receivewal")
    time.sleep(1)
    ledger = write(lab, "archive-down")
    switch_segments(lab, 2)
    down = backup_status(lab)["backup"]["archive"]
    assert down["streaming"] is False and down["lag_bytes"] > 0 and down["wal_status"] == "reserved"
    assert down["receiver_pid"] is None

    back = lab.playbook(*BACKUP, "-e", "backup_max_age=86400")
    assert back.returncode == 0 and "no gap" in back.output, back.tail()
    lab.wait_archived()
    up = backup_status(lab)["backup"]["archive"]
    assert up["streaming"] is True and up["sound"] is True and up["gaps"] == []
    assert ledger.acknowledged()


def test_a_backup_killed_half_way_does_not_count_and_the_next_run_clears_it(lab):
    last = backup_status(lab)["backup"]["last_backup"]["id"]
    partial = kill_backup_half_way(lab)
    status = backup_status(lab)["backup"]
    assert status["last_backup"]["id"] == last
    assert status["interrupted"] == [partial]

    again = lab.playbook(*BACKUP)
    assert again.returncode == 0, again.tail()
    assert lab.sh("pb3", "ls -d %s/base/*.partial 2>/dev/null || true" % REPOSITORY) == ""
    assert backup_status(lab)["backup"]["last_backup"]["id"] != last


def test_a_standby_whose_slot_lost_its_wal_catches_up_from_the_archive_without_a_fresh_copy(lab):
    small = ("site.yml", "--limit", "pb1,pb3", "-e", "polardb_max_slot_wal_keep_size=32MB",
             "-e", "polardb_wal_keep_size=0")
    lab.converge(*small)
    inode = lab.sh("pb3", "stat -c %i /var/lib/polardb/nvme2n1/standby/PG_VERSION")
    assert "restore_command = 'cp %s/%%f" % ARCHIVE in lab.sh(
        "pb3", "cat /var/lib/polardb/nvme2n1/standby/polardb_standby.conf")
    lab.sh("pb3", "%s stop -m fast -D /var/lib/polardb/nvme2n1/standby" % PG_CTL, user="postgres")
    ledger = write(lab, "slot-lost-%d" % int(time.time()))
    switch_segments(lab, 4)
    lab.wait_archived()
    lab.db("pb1").query("CHECKPOINT")
    assert lab.db("pb1").query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'pb3'") == "lost"

    run = lab.converge(*small)
    assert re.search(r"The slot pb3 of pb3 had lost its WAL .* catches up from its archive",
                     " ".join(run.output.split())), run.tail()
    lab.assert_healthy()
    assert ledger.missing(lab.db("pb3")) == []
    assert lab.sh("pb3", "stat -c %i /var/lib/polardb/nvme2n1/standby/PG_VERSION") == inode, "pb3 was copied again"
    assert "restored log file" in lab.sh("pb3", "cat /var/lib/polardb/nvme2n1/standby.log")
    lab.converge()


def test_the_archive_stops_and_its_slot_goes_when_asked(lab):
    run = lab.playbook(*BACKUP, "-e", "backup_state=absent")
    assert run.returncode == 0, run.tail()
    assert lab.db("pb1").query("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'" % SLOT) == "0"
    assert lab.sh("pb3", "pgrep -x pg_receivewal || true") == ""
    assert lab.sh("pb3", "ls %s/base" % REPOSITORY) != "", "the repository's backups must stay"
    lab.assert_healthy()
