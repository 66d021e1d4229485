import errno
import os
import pathlib
import shutil
import subprocess

import pytest

from ansible_collections.polardb.cluster.plugins.module_utils import blockdev


FAKES = pathlib.Path(__file__).resolve().parents[2] / 'fakes'


class Failed(Exception):
    pass


class StubModule(object):
    """Just what signatures() uses of AnsibleModule; tools only from bin_dir."""

    def __init__(self, bin_dir):
        self.bin_dir = bin_dir

    def get_bin_path(self, name):
        return shutil.which(name, path=str(self.bin_dir))

    def run_command(self, args):
        assert isinstance(args, list)
        done = subprocess.run(args, capture_output=True, text=True)
        return done.returncode, done.stdout, done.stderr

    def fail_json(self, msg):
        raise Failed(msg)


@pytest.fixture
def probe_tools(fake_bin, monkeypatch):
    for tool in ('blkid', 'wipefs'):
        (fake_bin / tool).symlink_to(FAKES / 'blockdev_probe.py')

    def disk(kind):
        monkeypatch.setenv('BLOCKDEV_FAKE', kind)
        return StubModule(fake_bin)
    return disk


def test_device_size_seeks_to_the_end(tmp_path):
    image = tmp_path / 'disk.img'
    with open(image, 'wb') as handle:
        handle.truncate(10 * 1024 ** 3)
    assert blockdev.device_size(str(image)) == 10737418240


@pytest.mark.parametrize('kind, expected', [
    ('empty', []),
    ('ext4', [{'type': 'ext4', 'usage': 'filesystem', 'offset': 0x438}]),
    ('gpt', [{'type': 'gpt', 'usage': 'partition table', 'offset': 0x200},
             {'type': 'PMBR', 'usage': 'partition table', 'offset': 0x1fe}]),
    ('ambivalent', [{'type': 'ext4', 'usage': 'filesystem', 'offset': 0x438},
                    {'type': 'swap', 'usage': 'other', 'offset': 0xff6}]),
])
def test_signatures(probe_tools, kind, expected):
    assert blockdev.signatures(probe_tools(kind), '/dev/loop1') == expected


def test_signatures_from_blkid_alone(probe_tools, fake_bin):
    (fake_bin / 'wipefs').unlink()
    assert blockdev.signatures(probe_tools('gpt'), '/dev/loop1') == [
        {'type': 'gpt', 'usage': 'partition table', 'offset': None}]
    assert blockdev.signatures(probe_tools('ambivalent'), '/dev/loop1')[0]['type'] == 'ambivalent'


def test_signatures_fail_when_probing_fails(probe_tools):
    module = probe_tools('broken')
    with pytest.raises(Failed, match='wipefs -n /dev/loop1 failed .exit 1.: .*Permission denied'):
        blockdev.signatures(module, '/dev/loop1')


def test_signatures_need_a_tool(probe_tools, fake_bin):
    (fake_bin / 'wipefs').unlink()
    (fake_bin / 'blkid').unlink()
    with pytest.raises(Failed, match='Neither wipefs nor blkid'):
        blockdev.signatures(probe_tools('ext4'), '/dev/loop1')


def test_mount_points_match_major_minor_and_unescape(tmp_path, monkeypatch):
    monkeypatch.setattr(blockdev, '_device_number', lambda path: os.makedev(7, 1))
    mountinfo = tmp_path / 'mountinfo'
    mountinfo.write_text(
        '22 27 0:21 / /proc rw,relatime - proc proc rw\n'
        '90 27 7:1 / /mnt/my\\040disk rw,relatime - ext4 /dev/loop1 rw\n'
        '91 27 7:10 / /mnt/other rw,relatime - ext4 /dev/loop10 rw\n'
        '92 27 7:1 /sub /srv/bind rw,relatime - ext4 /dev/loop1 rw\n')
    assert blockdev.mount_points('/dev/nvme2n1', str(mountinfo)) == ['/mnt/my disk', '/srv/bind']


def test_mount_points_need_a_block_device():
    with pytest.raises(ValueError, match='not a block device'):
        blockdev.mount_points('/dev/null')


def test_holders_follow_the_kernel_name(tmp_path, monkeypatch):
    monkeypatch.setattr(blockdev, '_device_number', lambda path: os.makedev(7, 3))
    (tmp_path / 'devices' / 'loop3').mkdir(parents=True)
    (tmp_path / 'dev' / 'block').mkdir(parents=True)
    (tmp_path / 'dev' / 'block' / '7:3').symlink_to('../../devices/loop3')
    holders = tmp_path / 'class' / 'block' / 'loop3' / 'holders'
    holders.mkdir(parents=True)
    assert blockdev.holders('/dev/nvme2n1', str(tmp_path)) == []
    (holders / 'dm-0').mkdir()
    assert blockdev.holders('/dev/nvme2n1', str(tmp_path)) == ['dm-0']


def test_openers_compare_device_numbers(tmp_path):
    def process(pid, comm, targets):
        fd_dir = tmp_path / str(pid) / 'fd'
        fd_dir.mkdir(parents=True)
        (tmp_path / str(pid) / 'comm').write_text(comm + '\n')
        for number, target in enumerate(targets):
            (fd_dir / str(number)).symlink_to(target)
    process(101, 'pfsdaemon', ['/dev/zero', '/dev/null', '/dev/null'])
    process(202, 'bash', ['/dev/zero', '/nonexistent'])
    process(303, 'postgres', ['/dev/null'])
    (tmp_path / 'self').mkdir()
    # /dev/null stands in for the block device: same file type and st_rdev
    assert blockdev.openers('/dev/null', str(tmp_path)) == [(101, 'pfsdaemon'), (303, 'postgres')]


def test_exclusively_busy(monkeypatch):
    def refuse(path, flags):
        assert flags & os.O_EXCL
        raise OSError(errno.EBUSY, 'Device or resource busy')
    monkeypatch.setattr(blockdev.os, 'open', refuse)
    assert blockdev.exclusively_busy('/dev/loop1') is True


def test_exclusively_free_opens_read_only_and_exclusive_and_closes(monkeypatch):
    opened, closed = [], []

    def grant(path, flags):
        opened.append((path, flags))
        return 42
    monkeypatch.setattr(blockdev.os, 'open', grant)
    monkeypatch.setattr(blockdev.os, 'close', closed.append)
    assert blockdev.exclusively_busy('/dev/loop1') is False
    # O_EXCL without O_CREAT is the kernel's exclusive open of a block device; with
    # O_CREAT (or O_WRONLY) it would be something else entirely
    assert opened == [('/dev/loop1', os.O_RDONLY | os.O_EXCL)]
    assert closed == [42]


def test_other_open_errors_are_not_taken_for_free_or_busy(monkeypatch):
    def deny(path, flags):
        raise OSError(errno.EACCES, 'Permission denied')
    monkeypatch.setattr(blockdev.os, 'open', deny)
    with pytest.raises(OSError):
        blockdev.exclusively_busy('/dev/loop1')
