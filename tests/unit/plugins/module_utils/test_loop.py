import json
import os
import pathlib
import subprocess
import sys

import pytest

from ansible_collections.polardb.cluster.plugins.module_utils import loop

FAKES = pathlib.Path(__file__).resolve().parents[2] / 'fakes'
sys.path.insert(0, str(FAKES))
import losetup_sysfs  # noqa: E402

# losetup -l -J from pfs-mkfs.txt (default columns, no inode)
REFERENCE_LIST = '''{
   "loopdevices": [
      {"name": "/dev/loop1", "sizelimit": 0, "offset": 0, "autoclear": false, "ro": false,
       "back-file": "/data/std.img", "dio": true, "log-sec": 512},
      {"name": "/dev/loop0", "sizelimit": 0, "offset": 0, "autoclear": false, "ro": false,
       "back-file": "/disk.img", "dio": true, "log-sec": 512}
   ]
}'''

# losetup 2.38 -l -J -O NAME,BACK-INO,BACK-MAJ:MIN,DIO DEV, recorded on this host
RECORDED_ATTACHED = '''{
   "loopdevices": [
      {
         "name": "/dev/.probe-test/loop0",
         "back-ino": 2146658,
         "back-maj:min": "     254:0  ",
         "dio": true
      }
   ]
}'''
RECORDED_FREE = ('{"loopdevices": [{"name": "/dev/.probe-test/loop3", "back-ino": null, '
                 '"back-maj:min": null, "dio": false}]}')


def test_parse_recorded_list_output():
    assert loop.parse_losetup_list(RECORDED_ATTACHED) == [
        {'device': '/dev/.probe-test/loop0', 'inode': 2146658, 'devno': '254:0', 'dio': True}]
    assert loop.parse_losetup_list(RECORDED_FREE) == [
        {'device': '/dev/.probe-test/loop3', 'inode': None, 'devno': None, 'dio': False}]


def test_parse_reference_list_without_inode_columns():
    parsed = loop.parse_losetup_list(REFERENCE_LIST)
    assert [entry['device'] for entry in parsed] == ['/dev/loop1', '/dev/loop0']
    assert all(entry['inode'] is None and entry['dio'] for entry in parsed)


def test_parse_old_util_linux_strings():
    text = json.dumps({'loopdevices': [{'name': '/dev/loop2', 'back-ino': '1499172',
                                        'back-maj:min': '254:0', 'dio': '0'}]})
    assert loop.parse_losetup_list(text) == [
        {'device': '/dev/loop2', 'inode': 1499172, 'devno': '254:0', 'dio': False}]
    assert loop.parse_losetup_list('') == []


@pytest.fixture
def sysfs(tmp_path):
    (tmp_path / 'sys' / 'block' / 'vda').mkdir(parents=True)

    def device(number, backing=None, dio='1', sectors=None):
        losetup_sysfs.add_loop(tmp_path / 'sys', number, backing, dio, sectors)
    return device


def test_kernel_loops_and_sysfs_state(sysfs, tmp_path):
    sysfs(0, '/disk.img', sectors=41943040)
    sysfs(12)
    sys_root = str(tmp_path / 'sys')
    assert loop.kernel_loops(sys_root) == {'loop0': {'devno': '7:0', 'attached': True},
                                           'loop12': {'devno': '7:12', 'attached': False}}
    assert loop.sysfs_state('loop0', sys_root) == {'dio': True, 'size': 21474836480, 'offset': 0, 'sizelimit': 0}


@pytest.fixture
def fake_nodes(monkeypatch):
    monkeypatch.setattr(loop, 'make_node', losetup_sysfs.make_node)
    monkeypatch.setattr(loop, 'node_matches', losetup_sysfs.node_matches)


def test_loop_nodes_probe_through_a_temporary_node(sysfs, tmp_path, fake_nodes):
    sysfs(0, '/disk.img')
    sysfs(1, '/data/std.img')
    dev = tmp_path / 'dev'
    dev.mkdir()
    (dev / 'loop1').write_text('7:1')
    with loop.LoopNodes(str(dev), str(tmp_path / 'sys')) as nodes:
        assert nodes.path('loop1') == str(dev / 'loop1')
        probe = nodes.path('loop0')
        assert os.path.dirname(probe) != str(dev) and open(probe).read() == '7:0'
    assert sorted(os.listdir(dev)) == ['loop1']  # the probe folder is gone, no loop0 node left


class StubModule(object):
    check_mode = False

    def __init__(self):
        self.calls = []

    def run_command(self, args):
        self.calls.append(args[1:])
        done = subprocess.run(args, capture_output=True, text=True)
        return done.returncode, done.stdout, done.stderr

    def fail_json(self, msg):
        raise AssertionError(msg)


@pytest.fixture
def fake_losetup(tmp_path, monkeypatch, fake_nodes):
    monkeypatch.setenv('LOSETUP_FAKE_SYS', str(tmp_path / 'sys'))
    monkeypatch.setenv('LOSETUP_FAKE_LOG', str(tmp_path / 'losetup.log'))
    (tmp_path / 'dev').mkdir()
    return str(FAKES / 'losetup.py')


def test_find_attachments_by_inode_not_by_name(sysfs, tmp_path, fake_losetup):
    image = tmp_path / 'std.img'
    image.write_bytes(b'\0' * 4096)
    other_name = tmp_path / 'seen-from-another-container.img'
    os.link(image, other_name)  # same inode, other name
    impostor = tmp_path / 'impostor' / 'std.img'
    impostor.parent.mkdir()
    impostor.write_bytes(b'')
    sysfs(0, '/disk.img')  # another container's file: not visible here
    sysfs(1, str(other_name))
    sysfs(2, str(impostor))
    sysfs(3)
    with loop.LoopNodes(str(tmp_path / 'dev'), str(tmp_path / 'sys')) as nodes:
        module = StubModule()
        found = loop.find_attachments(module, fake_losetup, os.stat(image), nodes)
    assert found == ['loop1']
    assert len(module.calls) == 3  # loop3 is free: not asked


def test_attach_retries_when_another_attacher_wins(sysfs, tmp_path, fake_losetup, monkeypatch):
    monkeypatch.setenv('LOSETUP_FAKE_BUSY', '2')
    image = tmp_path / 'std.img'
    image.write_bytes(b'\0' * 4096)
    with loop.LoopNodes(str(tmp_path / 'dev'), str(tmp_path / 'sys')) as nodes:
        module = StubModule()
        kname = loop.attach(module, fake_losetup, str(image), True, nodes)
    assert kname == 'loop2'
    assert module.calls.count(['-f']) == 3
    assert open(tmp_path / 'dev' / 'loop2').read() == '7:2'


def test_replace_symlink_and_alias_state(tmp_path):
    alias = str(tmp_path / 'nvme2n1')
    assert loop.alias_state(alias) == ('missing', None)
    loop.replace_symlink('/dev/loop3', alias)
    loop.replace_symlink('/dev/loop1', alias)
    assert loop.alias_state(alias) == ('symlink', '/dev/loop1')
    os.unlink(alias)
    open(alias, 'w').close()
    assert loop.alias_state(alias) == ('other', None)
    assert os.listdir(tmp_path) == ['nvme2n1']


def test_same_inode_on_another_filesystem_is_not_ours(sysfs, tmp_path, fake_nodes):
    image = tmp_path / 'std.img'
    image.write_bytes(b'')
    st = os.stat(image)
    sysfs(0, '/disk.img')
    (tmp_path / 'dev').mkdir()

    class Canned(StubModule):
        def run_command(self, args):
            other_fs = '%d:%d' % (os.major(st.st_dev) + 1, os.minor(st.st_dev))
            return 0, json.dumps({'loopdevices': [{'name': args[-1], 'back-ino': st.st_ino,
                                                   'back-maj:min': other_fs, 'dio': True}]}), ''
    with loop.LoopNodes(str(tmp_path / 'dev'), str(tmp_path / 'sys')) as nodes:
        assert loop.find_attachments(Canned(), 'losetup', st, nodes) == []
