"""The PolarDB fault suite's lab: real PolarDB 15 and PFS, pb3's shared data on its own PFS disk.

Run as `POLARDB_ENGINE=polardb POLARDB_LAB_PREFIX=pfaults- pytest tests/faults_polardb`
(tests/polardb/run.sh does). The session builds that lab, converges site.yml
once, and removes the lab at the end (POLARDB_FAULTS_KEEP_LAB=1 keeps it); the
writer and the measurements are those of tests/faults (tests/faultlab.py).
Cases run in file order and each leaves the lab healthy for the next.
"""
import os
import re
import shlex
import subprocess

import pytest

import faultlab
import labtools

BIN = labtools.POLARDB_BIN
HOME = "/home/postgres"
PRIMARY_DATA = HOME + "/primary"
STANDBY_DATA = HOME + "/standby"
DISK = "nvme2n1"
ALIAS = "/dev/" + DISK
IMAGE = "/data/VirtualDisk_standby.img"
PFS_ROOT = "/%s/" % DISK  # PFS names a disk's root with its trailing slash
SHARED_DATA = PFS_ROOT + "shared_data"
# What polar_basebackup keeps beside the data directory while it runs.
MARKER = HOME + "/.standby.polar_basebackup.json"
STAGING = STANDBY_DATA + ".staging"


class PolarFaultLab(faultlab.FaultLab):
    """The PolarDB lab, and what the cases look at on pb3's PFS disk."""

    database = labtools.PolarDatabase
    bin = BIN
    home = HOME
    primary_data = PRIMARY_DATA
    standby_data = STANDBY_DATA
    disk = DISK
    alias = ALIAS
    image = IMAGE
    pfs_root = PFS_ROOT
    shared_data = SHARED_DATA
    marker = MARKER
    staging = STAGING

    def pfs(self, *args, check=True):
        """stdout of `pfs -C disk ARGS` in pb3, as root (PFS writes need it)."""
        return self.sh("pb3", "pfs -C disk " + " ".join(shlex.quote(arg) for arg in args), check=check)

    def pfs_names(self, path):
        """Names in a PFS directory; None when it does not exist."""
        run = labtools.in_container("pb3", "pfs -C disk ls %s" % shlex.quote(path), check=False)
        if run.returncode != 0:
            return None
        return sorted(line.split()[-1] for line in run.stdout.splitlines() if re.match(r"\s*(File|Dir)\s", line))

    def pfs_inode(self, path):
        return re.search(r"inode: (\d+)", self.pfs("stat", path)).group(1)

    def pfsd_pid(self, disk=DISK):
        """Pid of the pfsdaemon serving disk in pb3, '' when none runs."""
        return self.sh("pb3", "for p in $(pidof pfsdaemon); do tr '\\0' ' ' < /proc/$p/cmdline "
                              "| grep -q -e ' -p %s ' && echo $p; done; true" % disk)

    def pg_ctl_status(self):
        """What the standby role asks before starting the standby: pg_ctl status's exit code."""
        return labtools.in_container("pb3", "%s/pg_ctl status -D %s" % (BIN, STANDBY_DATA), check=False,
                                     user="postgres").returncode

    def backup_identity(self):
        """What tells one base backup of pb3 from another: both backup labels, inodes, system identifier."""
        return dict(
            system_identifier=self.system_identifier("pb3"),
            local_label=self.sh("pb3", "cat %s/backup_label.old" % STANDBY_DATA),
            pfs_label=self.pfs("read", SHARED_DATA + "/polar_non_exclusive_backup_label"),
            data_dir_inode=self.sh("pb3", "stat -c %i " + STANDBY_DATA),
            pfs_inodes=[self.pfs_inode(SHARED_DATA + name) for name in ("", "/global", "/base")])

    def fingerprint(self):
        """What a refused run leaves exactly as it was, on pb1 and pb3 (standby, pfsd, disk, settings)."""
        pb3 = self.sh("pb3", """
            readlink -f %(alias)s; losetup -j %(image)s -O NAME,DIO -n
            cd %(data)s && md5sum postgresql.conf postgresql.auto.conf polardb_standby.conf standby.signal
            md5sum %(home)s/.pgpass.pb3
        """ % dict(alias=ALIAS, image=IMAGE, data=STANDBY_DATA, home=HOME))
        pb1 = self.sh("pb1", "cd %s && md5sum pg_hba.conf postgresql.conf postgresql.auto.conf polardb_primary.conf"
                      % PRIMARY_DATA)
        sql = self.db("pb1").query(
            "SELECT string_agg(slot_name || ':' || slot_type, ',' ORDER BY slot_name) FROM pg_replication_slots; "
            "SELECT md5(rolpassword) FROM pg_authid WHERE rolname = 'replicator'")
        return dict(pb3=pb3, pb1=pb1, pb1_catalog=sql, pfsd=self.pfsd_pid(), pfs_root=self.pfs_names(PFS_ROOT),
                    backup=self.backup_identity(), pb1_started=self.postmaster_start("pb1"),
                    pb3_started=self.postmaster_start("pb3"))

    def attachments(self, image):
        """losetup -j, on this machine, of an image in pb3's /data (the lab's data folder for pb3)."""
        host_path = self.data / "pb3" / os.path.relpath(image, "/data")
        if not host_path.exists():
            return ""
        run = subprocess.run(["losetup", "-j", str(host_path)], capture_output=True, text=True, check=True)
        return run.stdout.strip()

    def detach(self, image, alias):
        """Detach an image the test made: the module finds its loop devices by the image's inode."""
        self.adhoc("pb3", "polardb.cluster.loop_device", dict(image=image, alias=alias, state="absent"))
        assert self.attachments(image) == "", "%s is still attached" % image


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    if os.environ.get("POLARDB_ENGINE") != "polardb":
        pytest.exit("Set POLARDB_ENGINE=polardb: this suite runs the polardb engine on the PolarDB lab image "
                    "(tests/polardb/run.sh sets it).", returncode=4)
    yield from faultlab.session_lab(PolarFaultLab(tmp_path_factory.mktemp("faults-polardb")),
                                    "tests/polardb/run.sh uses pfaults-")


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True


@pytest.fixture(autouse=True)
def heal_after_a_failure(request, lab):
    """A case that failed half-way (pfsd dead, pb3 without data) may not leave the next one a broken lab."""
    yield
    if request.node.stash.get(FAILED, False):
        lab.playbook("site.yml")
