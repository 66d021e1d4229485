"""Disks PFS must not take, on real PFS: refused with a message naming the problem, pb3's standby undisturbed.

Each case points pb3's storage at another image and alias (as pb3's host
variables, so that nothing else moves) while its real standby (its own disk,
pfsd, database) keeps streaming, and leaves no loop device of its own behind
(detached by the image's inode only).
"""
import re

import pytest

import faultlab
import labtools

ALIAS = "/dev/nvme3n1"


def run_on_another_disk(lab, image, size):
    """site.yml with pb3's storage pointed at image, of size, behind ALIAS (pb3's variables only)."""
    inventory = lab.inventory("another-disk", host_vars={
        "pb3": dict(storage_image=image, storage_size=size, polardb_disk_alias=ALIAS)})
    return lab.playbook("-i", inventory, *lab.rerun)


def probe(lab, path):
    """What a low-level probe of path finds (no blkid cache), without the name it was given."""
    return [line for line in lab.sh("pb3", "blkid -p -o export %s" % path).splitlines()
            if not line.startswith("DEVNAME=")]


@pytest.mark.full(reason="checked by make test-full only")
def test_a_pfs_disk_smaller_than_ten_gib_is_refused_before_anything_is_made(lab):
    image = "/data/small.img"
    before = lab.fingerprint()
    devices = sorted(labtools.attached_lab_devices())
    dev = lab.sh("pb3", "ls /dev")
    try:
        with lab.writer("small-disk"):
            run = run_on_another_disk(lab, image, "5G")
        faultlab.assert_refused(run, r"needs at least (10 GiB|10737418240 bytes)")
        assert run.recap["pb3"]["failed"] == 1, run.tail()
        # Refused before anything was made, so before mkfs: no image, no loop device, no alias.
        assert lab.sh("pb3", "test -e %s || echo absent" % image) == "absent"
        assert lab.attachments(image) == ""
        assert sorted(labtools.attached_lab_devices()) == devices
        assert lab.sh("pb3", "ls /dev") == dev
        assert lab.fingerprint() == before
    finally:
        lab.detach(image, ALIAS)
        lab.sh("pb3", "rm -f " + image)
    lab.assert_healthy()


@pytest.mark.full(reason="checked by make test-full only")
def test_a_disk_holding_ext4_is_refused_and_still_holds_it(lab):
    image = "/data/ext4.img"
    lab.sh("pb3", "truncate -s 10G {0} && mkfs.ext4 -q -F -L operator-data "
                  "-E lazy_itable_init=1,lazy_journal_init=1 {0}".format(image))
    try:
        filesystem = probe(lab, image)
        assert "TYPE=ext4" in filesystem
        before = lab.fingerprint()
        with lab.writer("ext4-disk"):
            run = run_on_another_disk(lab, image, "10G")
        assert run.returncode != 0 and run.recap["pb3"]["failed"] == 1, run.tail()
        assert re.search(r"%s holds ext4\b" % ALIAS, run.output), run.tail()
        # The run attached the image behind its alias and went no further: no mkfs, no pfsd.
        assert faultlab.changed_tasks(run, "pb3") == ["Attach the disk image to a loop device behind its alias"]
        assert run.changed["pb1"] == 0, run.tail()
        assert probe(lab, ALIAS) == filesystem
        assert lab.pfsd_pid(ALIAS[len("/dev/"):]) == ""
        assert lab.fingerprint() == before
    finally:
        lab.detach(image, ALIAS)
    # Still the same ext4, and a clean one.
    assert probe(lab, image) == filesystem
    lab.sh("pb3", "e2fsck -f -n %s >/dev/null" % image)
    lab.sh("pb3", "rm -f " + image)
    lab.assert_healthy()
