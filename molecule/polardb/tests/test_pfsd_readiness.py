"""pfsd readiness on the real binaries: a daemon that runs but serves nobody is not ready.

`pfs ls` tries pfsd for 2 seconds and then reads the disk itself, so its answer
says nothing about pfsd. The module waits instead for pfsd to log that it
mounted the disk for a client. A stopped (SIGSTOP) pfsdaemon is the case where
the two differ: the process is there, `pfs ls` still answers, nobody is served.
"""
import uuid

import pytest

from labtools import in_container, run_module, succeeded


class ProbeDisk:
    """A 10 GiB sparse image of this test's own in pb3, formatted with PFS, behind /dev/NAME."""

    def __init__(self):
        self.name = "probe%s" % uuid.uuid4().hex[:6]
        self.image = "/data/%s.img" % self.name

    def module(self, name, **args):
        return run_module("pb3", name, args)

    def pfsd(self, **args):
        return self.module("pfsd", disk=self.name, **args)

    def daemon_pid(self):
        return in_container("pb3", "pgrep -f -x '.*pfsdaemon -p %s .*'" % self.name).stdout.split()[0]


@pytest.fixture
def probe_disk():
    disk = ProbeDisk()
    succeeded(disk.module("loop_device", image=disk.image, size="10G", alias="/dev/" + disk.name))
    succeeded(disk.module("pfs_mkfs", disk=disk.name))
    yield disk
    in_container("pb3", "pkill -CONT -f 'pfsdaemon -p %s ' ; true" % disk.name)
    stopped = disk.pfsd(state="stopped")
    detached = disk.module("loop_device", image=disk.image, state="absent", remove_image=True)
    assert not stopped.get("failed") and not detached.get("failed"), (stopped.get("msg"), detached.get("msg"))


def test_a_stopped_pfsdaemon_is_not_taken_for_a_ready_one(probe_disk):
    started = succeeded(probe_disk.pfsd(timeout=30))
    assert started["changed"] is True and started["pidfile_locked"] is True

    in_container("pb3", "kill -STOP %s" % probe_disk.daemon_pid())
    listing = in_container("pb3", "pfs -C disk ls /%s/" % probe_disk.name, check=False)
    assert listing.returncode == 0 and ".pfs-journal" in listing.stdout, "pfs ls answers without pfsd"

    hung = probe_disk.pfsd(timeout=8)
    assert hung.get("failed") is True
    assert "serves no client" in hung["msg"]

    in_container("pb3", "kill -CONT %s" % probe_disk.daemon_pid())
    again = succeeded(probe_disk.pfsd(timeout=30))
    assert again["changed"] is False and again["pid"] == started["pid"]
