"""Steps of the backup cases shared by the PostgreSQL and PolarDB labs: the backup host's status, new WAL
segments on pb1, a damaged and then missing segment, and a base backup killed half-way as by a power cut."""
import re
import time

import faultlab
import labtools

REPOSITORY = "/var/lib/polardb-backup"
ARCHIVE = REPOSITORY + "/wal"
BACKUP = ("playbooks/backup.yml",)


def backup_status(lab):
    """pb3's status document (status.yml's JSON): backup and last_restore among it."""
    run = lab.converge("playbooks/status.yml", "-e", "status_format=json", "--limit", "pb1,pb3")
    return labtools.status_document(run.output)["pb3"]


def switch_segments(lab, count):
    """count new complete segments on pb1, each with enough rows to fill more than its first page."""
    names = []
    for _ in range(count):
        lab.db("pb1").query("INSERT INTO %s (tag, payload) SELECT 'filler', repeat('x', 200) "
                            "FROM generate_series(1, 200)" % faultlab.TABLE)
        names.append(lab.db("pb1").query("SELECT pg_walfile_name(pg_current_wal_lsn())"))
        lab.db("pb1").query("SELECT pg_switch_wal()")
    return names


def kill_backup_half_way(lab):
    """Start backup.yml slowed down and kill it once its .partial folder is there: the controller, the
    module, the timeout(1) that runs pg_basebackup and pg_basebackup die together. Returns the folder."""
    slow = lab.start_playbook(*BACKUP, "-e", "backup_max_rate=1M")
    try:
        partial = ""
        deadline = time.time() + 60
        while not partial and time.time() < deadline:
            partial = lab.sh("pb3", "ls -d %s/base/*.partial 2>/dev/null || true" % REPOSITORY)
            time.sleep(0.5)
        assert partial, "no backup in progress within 60 s"
        time.sleep(2)
        slow.kill()
        lab.sh("pb3", "tool=$(pgrep -x pg_basebackup); limit=$(ps -o ppid= -p $tool); "
                      "module=$(ps -o ppid= -p $limit); kill -9 $module $limit $tool")
    finally:
        lab.finish_playbook(slow)
    return partial.split("/")[-1]


def damage_then_remove(lab, segment):
    """Overwrite bytes in the middle of an archived segment, then remove it: each time backup.yml fails
    naming it (pg_waldump stops there; then a gap)."""
    lab.sh("pb3", "printf 'XXXXXXXXXXXXXXXX' | dd of=%s/%s bs=1 seek=8192 conv=notrunc status=none"
           % (ARCHIVE, segment))
    damaged = lab.playbook(*BACKUP, "-e", "backup_max_age=86400")
    assert damaged.returncode != 0
    assert re.search(r"unreadable from [0-9A-F]+/[0-9A-F]+ in %s" % segment, damaged.output), damaged.tail()
    lab.sh("pb3", "rm %s/%s" % (ARCHIVE, segment))
    gap = lab.playbook(*BACKUP, "-e", "backup_max_age=86400")
    assert gap.returncode != 0 and "missing: %s" % segment in gap.output, gap.tail()
