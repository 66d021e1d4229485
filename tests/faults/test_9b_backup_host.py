"""9b. A backup host of its own: pb4 in group backup only, a fresh node. backup.yml checks it and gives it its
certificate, archives pb1's WAL through pb4's own slot and takes a verified backup; restore.yml then builds
a server on pb4's own new disk, to a time T, with exactly the rows committed by T (a ledger is the oracle).
The standbys are left alone. Leaves pb4's archive stopped, its slot and its pg_hba.conf entry gone, and its
container removed (its disk image is the lab's to remove).
"""
import re
import time

import faultlab
import labtools
from backup_steps import BACKUP
from lifecycle_steps import write

SLOT = "pb4_archive"
QUIESCE = labtools.PROJECT / "roles" / "lab" / "files" / "quiesce.sh"


def payloads(lab, host, tag):
    return set(lab.db(host).query("SELECT payload FROM %s WHERE tag = '%s'" % (faultlab.TABLE, tag)).split())


def replication_login_from_pb4(lab):
    """What pb1 answers a replication login from pb4 (over TLS, with the password)."""
    return labtools.in_container("pb4", "PGPASSWORD=%s psql -X -At \"host=pb1 user=replicator dbname=postgres "
                                        "replication=true sslmode=require connect_timeout=5\" -c IDENTIFY_SYSTEM"
                                 % lab.password, check=False, user="postgres")


def remove_pb4(lab, inventory):
    """pb4's archive stopped and its slot and entry gone, then its container (its server stopped and its disk
    unmounted first, as the lab's teardown does)."""
    stopped = lab.playbook("-i", inventory, *BACKUP, "-e", "backup_state=absent")
    labtools.in_container("pb4", QUIESCE.read_text(), check=False)
    labtools.docker("rm", "-f", labtools.PREFIX + "pb4", check=False)
    return stopped


def test_a_backup_host_of_its_own_archives_backs_up_and_restores_onto_its_own_fresh_disk(lab):
    inventory = lab.inventory("backup-pb4", backup="pb4")
    lab.converge("-i", inventory, "playbooks/lab.yml")
    try:
        fresh = lab.sh("pb4", "ls -d /var/lib/polardb-backup /var/lib/polardb/nvme2n1/standby 2>/dev/null; true")
        assert fresh == "", fresh
        pb3_started = lab.postmaster_start("pb3")
        # pb1 gets pb4's replication entry; nothing else of the cluster is pb4's
        lab.converge("-i", inventory, "site.yml", "--limit", "pb1")
        backup = lab.playbook("-i", inventory, *BACKUP)
        assert backup.returncode == 0, backup.tail()
        assert re.search(r"Backup \d{8}T\d{6}Z taken in [\d.]+ s \([\d.]+ MB, verified with pg_verifybackup\)",
                         backup.output), backup.tail()
        assert lab.db("pb1").query("SELECT active FROM pg_replication_slots WHERE slot_name = '%s'" % SLOT) == "t"

        run_id = int(time.time())
        before = write(lab, "pb4-before-%d" % run_id)
        time.sleep(1)
        target = lab.db("pb1").query("SELECT now()")
        time.sleep(1)
        after = write(lab, "pb4-after-%d" % run_id)
        lab.wait_archived(slot=SLOT)
        committed_by_then = payloads(lab, "pb1", before.tag)

        restored = lab.playbook("-i", inventory, "playbooks/restore.yml", "--limit", "pb4",
                                "-e", "restore_target_time='%s'" % target)
        assert restored.returncode == 0, restored.tail()
        assert "a primary of its own on timeline" in " ".join(restored.output.split()), restored.tail()
        assert lab.db("pb4").query("SELECT pg_is_in_recovery()") == "f"
        assert payloads(lab, "pb4", before.tag) == committed_by_then and before.missing(lab.db("pb4")) == []
        assert payloads(lab, "pb4", after.tag) == set()
        # on its own disk: the storage role made pb4's image, loop device and mount
        assert lab.sh("pb4", "findmnt -n -o SOURCE --mountpoint /var/lib/polardb/nvme2n1") == lab.sh(
            "pb4", "readlink -f /dev/nvme2n1")

        status = lab.converge("-i", inventory, "playbooks/status.yml", "-e", "status_format=json",
                              "--limit", "pb1,pb4")
        pb4 = labtools.status_document(status.output)["pb4"]
        assert pb4["role"] == "backup host" and pb4["backup"]["last_backup"]["verified_with"] == "pg_verifybackup"
        assert pb4["last_restore"]["target"] == "time %s" % target
        assert lab.postmaster_start("pb3") == pb3_started

        # nothing else of pb4's connects to pb1: with the archive stopped its entry goes, and pb1 reloads
        allowed = replication_login_from_pb4(lab)
        assert allowed.returncode == 0, allowed.stderr
        stopped = lab.playbook("-i", inventory, *BACKUP, "-e", "backup_state=absent")
        assert stopped.returncode == 0, stopped.tail()
        assert lab.db("pb1").query("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'" % SLOT) == "0"
        assert "follower pb4" not in lab.sh("pb1", "cat %s/pg_hba.conf" % lab.primary_data)
        refused = replication_login_from_pb4(lab)
        assert refused.returncode != 0 and "no pg_hba.conf entry" in refused.stderr, refused.stderr
    finally:
        remove_pb4(lab, inventory)
    lab.assert_healthy()
