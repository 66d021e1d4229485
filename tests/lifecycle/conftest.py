"""One converged lab for the standby's life cycle (PostgreSQL engine), shared by its cases.

Run as `POLARDB_LAB_PREFIX=life- pytest tests/lifecycle`: the session builds
that lab, converges site.yml once, creates the writer's table on pb1, and
removes the lab at the end (POLARDB_FAULTS_KEEP_LAB=1 keeps it). The writer,
the measurements and the session are those of the fault suites
(tests/faultlab.py). Cases run in file order, each on the lab the one before
left, and each leaves pb3 a streaming standby again unless it is the last.
"""
import os
import subprocess

import pytest

import faultlab
import labtools

STANDBY_MOUNT = "/var/lib/polardb/nvme2n1"
STANDBY_DATA = STANDBY_MOUNT + "/standby"
PRIMARY_DATA = "/var/lib/postgresql/primary"
ALIAS = "/dev/nvme2n1"
PASSFILE = "/var/lib/postgresql/.pgpass.pb3"
REMOVE = ("playbooks/remove.yml", "--limit", "pb3")


class LifecycleLab(faultlab.FaultLab):
    """The PostgreSQL-engine lab, and what a removal changes on pb1, pb2 and pb3."""

    standby_mount = STANDBY_MOUNT
    standby_data = STANDBY_DATA
    primary_data = PRIMARY_DATA
    alias = ALIAS
    passfile = PASSFILE
    remove = REMOVE

    def image(self, host="pb3"):
        """pb3's disk image, as this machine sees it (its /data is the lab folder's pb3)."""
        return self.data / host / "VirtualDisk_standby.img"

    def devices_backed_by(self, image_stat):
        """Loop devices of this machine backed by the file of image_stat (device and inode, as losetup -O shows them)."""
        backing = "%d:%d %d" % (os.major(image_stat.st_dev), os.minor(image_stat.st_dev), image_stat.st_ino)
        run = subprocess.run(["losetup", "-n", "-O", "NAME,BACK-MAJ:MIN,BACK-INO"], capture_output=True, text=True,
                             check=True)
        return [fields[0] for fields in map(str.split, run.stdout.splitlines())
                if len(fields) == 3 and " ".join(fields[1:]) == backing]

    def postgres_runs(self, host):
        return labtools.in_container(host, "pgrep -x postgres", check=False).returncode == 0

    def hba_rules_of(self, host):
        """pb1's pg_hba.conf rules for the addresses of host (pg_hba_file_rules reads the file)."""
        return self.db("pb1").query(
            "SELECT string_agg(line_number || ' ' || address, ',') FROM pg_hba_file_rules WHERE address = '%s'"
            % self.ip(host))

    def hba_databases_of(self, host):
        """The databases of pb1's pg_hba.conf rules for the addresses of host, one per rule."""
        return self.db("pb1").query(
            "SELECT string_agg(array_to_string(database, ','), ' ' ORDER BY line_number) FROM pg_hba_file_rules "
            "WHERE address = '%s'" % self.ip(host))

    def conf_loaded(self):
        return self.db("pb1").query("SELECT pg_conf_load_time()")

    def slots(self):
        return self.db("pb1").query(
            "SELECT string_agg(slot_name || ':' || active, ',' ORDER BY slot_name) FROM pg_replication_slots")

    def fingerprint(self):
        """What a run that changes nothing leaves exactly as it was, on pb1, pb2 and pb3."""
        pb3 = self.sh("pb3", """
            readlink %(alias)s; findmnt -n -o MAJ:MIN,TARGET --mountpoint %(mount)s; cat /etc/fstab
            cd %(data)s && md5sum postgresql.conf polardb_standby.conf standby.signal %(passfile)s
            stat -c '%%i %%U %%a' . %(passfile)s; ls -A /data %(mount)s
        """ % dict(alias=ALIAS, mount=STANDBY_MOUNT, data=STANDBY_DATA, passfile=PASSFILE))
        pb1 = self.sh("pb1", "cd %s && md5sum pg_hba.conf postgresql.conf polardb_primary.conf" % PRIMARY_DATA)
        return dict(pb3=pb3, pb1=pb1, slots=self.slots(), conf_loaded=self.conf_loaded(),
                    loop_devices=sorted(labtools.attached_lab_devices()),
                    started={host: self.postmaster_start(host) for host in ("pb1", "pb2", "pb3")})


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    if os.environ.get("POLARDB_ENGINE", "postgresql") != "postgresql":
        pytest.exit("tests/lifecycle runs on the PostgreSQL engine only: unset POLARDB_ENGINE.", returncode=4)
    yield from faultlab.session_lab(LifecycleLab(tmp_path_factory.mktemp("lifecycle")),
                                    "for example POLARDB_LAB_PREFIX=life-")
