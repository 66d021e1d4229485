"""loop_device and replication_slot on real loop devices and a real PostgreSQL 15.

The modules are driven as users drive them: `ansible HOST -m polardb.cluster.NAME`
against the lab inventory, with the json callback so each result is parsed,
not grepped. loop_device runs in pb3 (a loop device of the host kernel, seen
from a container); replication_slot runs on pb1 after the primary role made it
a primary. Every name a test creates is unique, and clean-up runs even when an
assertion fails.
"""
import os
import subprocess
import time
import uuid

import pytest

from labtools import run_module, succeeded

PG_BIN = "/usr/lib/postgresql/15/bin"
SOCKET_DIR = "/var/run/postgresql"


# --------------------------------------------------------------------------- loop_device in pb3


class Disk:
    """One test's image and alias in pb3, and how to reach them from the host."""

    def __init__(self, lab):
        self.lab = lab
        tag = uuid.uuid4().hex[:8]
        self.image = "/data/it-%s.img" % tag
        self.host_image = lab.data / "pb3" / os.path.basename(self.image)
        self.alias = "/dev/it-%s" % tag
        self.mount_point = "/mnt/it-%s" % tag

    def loop(self, check=False, **args):
        return run_module("pb3", "loop_device", dict(args, image=self.image, alias=self.alias), check=check)

    def sh(self, script, check=True):
        return self.lab.in_container("pb3", script, check=check)

    def host_attachments(self):
        """Loop devices of the host kernel backed by the image (by inode, as losetup -j matches)."""
        if not self.host_image.exists():
            return []
        run = subprocess.run(["losetup", "-j", str(self.host_image)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return [line.split(":")[0] for line in run.stdout.splitlines() if line]

    def alias_target(self):
        return self.sh("readlink %s || true" % self.alias).stdout.strip()

    def exists_in_pb3(self, path):
        return self.sh("test -e %s" % path, check=False).returncode == 0


@pytest.fixture
def disk(lab):
    disk = Disk(lab)
    yield disk
    # umount first: absent refuses a mounted device, and that must stay so
    disk.sh("umount %s 2>/dev/null; rmdir %s 2>/dev/null; true" % (disk.mount_point, disk.mount_point))
    cleanup = disk.loop(state="absent", remove_image=True)
    assert not cleanup.get("failed"), "clean-up failed: %s" % cleanup.get("msg")
    assert disk.host_attachments() == [] and not disk.host_image.exists()


def test_loop_device_check_mode_creates_nothing(disk):
    result = succeeded(disk.loop(check=True, size="1G"))

    assert result["changed"] is True
    assert result["device"] is None, "check mode must not pick a device"
    assert not disk.host_image.exists()
    assert not disk.exists_in_pb3(disk.alias)


def test_loop_device_attaches_a_sparse_image_with_direct_io_behind_the_alias(disk):
    first = succeeded(disk.loop(size="1G"))

    device = first["device"]
    assert first["changed"] is True and first["created"] is True and first["attached"] is True
    assert device.startswith("/dev/loop") and first["direct_io"] is True
    assert disk.host_attachments() == [device], "the host kernel holds exactly one attachment"
    kname = os.path.basename(device)
    assert disk.sh("cat /sys/block/%s/loop/dio" % kname).stdout.strip() == "1"
    assert disk.alias_target() == device
    assert disk.sh("test -b %s && echo block" % device).stdout.strip() == "block"
    size, blocks = disk.sh("stat -c '%%s %%b' %s" % disk.image).stdout.split()
    assert int(size) == 1 << 30 and int(blocks) == 0, "a new image is sparse"

    second = succeeded(disk.loop(size="1G"))
    assert second["changed"] is False and second["actions"] == [] and second["device"] == device

    checked = succeeded(disk.loop(check=True, size="1G"))
    assert checked["changed"] is False and checked["device"] == device
    assert checked["diff"]["before"] == checked["diff"]["after"]


def test_loop_device_restores_node_and_alias_after_a_container_restart(disk):
    device = succeeded(disk.loop(size="1G"))["device"]

    disk.lab.docker("restart", disk.lab.prefix + "pb3")

    assert not disk.exists_in_pb3(device), "a restarted container has a fresh /dev"
    assert not disk.exists_in_pb3(disk.alias)
    assert disk.host_attachments() == [device], "the kernel keeps the attachment"

    again = succeeded(disk.loop(size="1G"))
    assert again["changed"] is True
    assert again["attached"] is False and again["device"] == device, "the same device, not a second one"
    assert disk.host_attachments() == [device]
    assert disk.alias_target() == device
    assert disk.sh("cat /sys/block/%s/loop/dio" % os.path.basename(device)).stdout.strip() == "1"

    assert succeeded(disk.loop(size="1G"))["changed"] is False


def test_loop_device_refuses_to_detach_a_mounted_device(disk):
    device = succeeded(disk.loop(size="1G"))["device"]
    disk.sh("mkfs.ext4 -q %s && mkdir -p %s && mount %s %s"
            % (disk.alias, disk.mount_point, disk.alias, disk.mount_point))

    refused = disk.loop(state="absent")

    assert refused.get("failed") is True and refused["changed"] is False
    assert disk.mount_point in refused["msg"] and device in refused["msg"]
    assert disk.host_attachments() == [device]
    assert disk.alias_target() == device

    disk.sh("umount %s" % disk.mount_point)
    detached = succeeded(disk.loop(state="absent"))

    assert detached["changed"] is True and detached["device"] is None
    assert disk.host_attachments() == []
    assert not disk.exists_in_pb3(disk.alias)
    assert disk.host_image.exists(), "the image stays without remove_image"
    assert succeeded(disk.loop(state="absent"))["changed"] is False


# --------------------------------------------------------------------------- replication_slot on pb1


@pytest.fixture(scope="module")
def primary(lab):
    """pb1 as a running PostgreSQL 15 primary; returns a psql runner."""
    lab.playbook("site.yml", "--tags", "host,primary", "--limit", "pb1")

    def psql(sql):
        run = lab.docker("exec", "-u", "postgres", lab.prefix + "pb1",
                         "psql", "-XAtq", "-h", SOCKET_DIR, "-c", sql)
        return run.stdout.strip()
    return psql


def slot_module(name, check=False, **args):
    args = dict(args, name=name, login_unix_socket=SOCKET_DIR)
    return run_module("pb1", "replication_slot", args, check=check, become_user="postgres")


def new_slot_name():
    return "it_" + uuid.uuid4().hex[:8]


def slot_row(psql, name):
    """'physical|t|1234' style row of pg_replication_slots, '' when the slot does not exist."""
    return psql("SELECT slot_type, active, active_pid FROM pg_replication_slots "
                "WHERE slot_name = '%s'" % name)


def test_replication_slot_is_created_once(primary):
    name = new_slot_name()

    created = succeeded(slot_module(name))
    again = succeeded(slot_module(name))

    assert created["changed"] is True and created["slot"]["name"] == name
    assert slot_row(primary, name) == "physical|f|"
    assert again["changed"] is False and again["slot"]["slot_type"] == "physical"


def test_replication_slot_check_mode_creates_nothing(primary):
    name = new_slot_name()

    result = succeeded(slot_module(name, check=True))

    assert result["changed"] is True
    assert result["diff"]["after"]["state"] == "present" and result["diff"]["before"]["state"] == "absent"
    assert slot_row(primary, name) == ""


@pytest.mark.parametrize("name", ["Bad", "a-b", "a" * 64])
def test_replication_slot_refuses_an_invalid_name(primary, name):
    result = slot_module(name)

    assert result.get("failed") is True
    assert "Invalid slot name %r" % name in result["msg"] and "1 to 63 characters" in result["msg"]
    assert primary("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'" % name) == "0"


def test_replication_slot_absent_of_a_missing_slot_changes_nothing(primary):
    result = succeeded(slot_module(new_slot_name(), state="absent"))

    assert result["changed"] is False and result["slot"] is None and result["terminated_pid"] == []


@pytest.fixture
def streaming_slot(lab, primary):
    """A slot that pg_receivewal streams from inside pb1; yields (name, walsender pid)."""
    name = new_slot_name()
    folder = "/tmp/%s" % name
    container = lab.prefix + "pb1"
    succeeded(slot_module(name))
    # --no-loop: the client exits when its walsender is terminated instead of reconnecting
    lab.docker("exec", "-d", "-u", "postgres", container, "sh", "-c",
               "mkdir -p {0} && echo $$ > {0}.pid && exec {1}/pg_receivewal --no-loop -S {2} -D {0} -h {3}"
               .format(folder, PG_BIN, name, SOCKET_DIR))
    deadline = time.monotonic() + 15
    row = slot_row(primary, name)
    while not row.startswith("physical|t|") and time.monotonic() < deadline:
        time.sleep(0.2)
        row = slot_row(primary, name)
    try:
        assert row.startswith("physical|t|"), "pg_receivewal never made slot %s active: %r" % (name, row)
        yield name, int(row.split("|")[2])
    finally:
        lab.docker("exec", container, "sh", "-c",
                   "pid=$(cat {0}.pid 2>/dev/null) && kill $pid 2>/dev/null; rm -rf {0} {0}.pid".format(folder),
                   check=False)


def test_replication_slot_keeps_an_active_slot_unless_told_to_terminate(primary, streaming_slot):
    name, walsender = streaming_slot

    refused = slot_module(name, state="absent")

    assert refused.get("failed") is True and refused["changed"] is False
    assert "pid %d" % walsender in refused["msg"] and "terminate_active" in refused["msg"]
    assert slot_row(primary, name) == "physical|t|%d" % walsender, "the slot and its client are untouched"

    dropped = succeeded(slot_module(name, state="absent", terminate_active=True))

    assert dropped["changed"] is True and dropped["slot"] is None
    assert dropped["terminated_pid"] == [walsender]
    assert slot_row(primary, name) == ""
    assert primary("SELECT count(*) FROM pg_stat_activity WHERE pid = %d" % walsender) == "0"
