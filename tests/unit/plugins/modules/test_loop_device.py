import os
import pathlib
import sys
import types

import pytest

from ansible_collections.polardb.cluster.plugins.module_utils import blockdev, loop
from ansible_collections.polardb.cluster.plugins.modules import loop_device

FAKES = pathlib.Path(__file__).resolve().parents[2] / 'fakes'
sys.path.insert(0, str(FAKES))
import losetup_sysfs  # noqa: E402

GIB = 1024 ** 3


@pytest.fixture
def lab(tmp_path, fake_bin, monkeypatch):
    """A container's view: fake sysfs and /dev, fake losetup, real image files."""
    for folder in ('sys/block', 'dev', 'data'):
        (tmp_path / folder).mkdir(parents=True)
    monkeypatch.setattr(loop, 'DEV_ROOT', str(tmp_path / 'dev'))
    monkeypatch.setattr(loop, 'SYS_ROOT', str(tmp_path / 'sys'))
    monkeypatch.setattr(loop, 'make_node', losetup_sysfs.make_node)
    monkeypatch.setattr(loop, 'node_matches', losetup_sysfs.node_matches)
    (fake_bin / 'losetup').symlink_to(FAKES / 'losetup.py')
    monkeypatch.setenv('LOSETUP_FAKE_SYS', str(tmp_path / 'sys'))
    monkeypatch.setenv('LOSETUP_FAKE_LOG', str(tmp_path / 'losetup.log'))
    users = dict(mounts=[], holders=[], openers=[], busy=False)
    monkeypatch.setattr(blockdev, 'mount_points', lambda path: users['mounts'])
    monkeypatch.setattr(blockdev, 'holders', lambda path, sys_root: users['holders'])
    monkeypatch.setattr(blockdev, 'openers', lambda path: users['openers'])
    monkeypatch.setattr(blockdev, 'exclusively_busy', lambda path: users['busy'])

    def calls():
        log = tmp_path / 'losetup.log'
        return log.read_text().splitlines() if log.exists() else []

    return types.SimpleNamespace(
        root=tmp_path, dev=tmp_path / 'dev', image=str(tmp_path / 'data' / 'std.img'),
        alias=str(tmp_path / 'dev' / 'nvme2n1'), users=users, calls=calls,
        add_loop=lambda number, backing=None, **kw: losetup_sysfs.add_loop(tmp_path / 'sys', number, backing, **kw))


def sparse(path, size):
    with open(path, 'wb') as handle:
        handle.truncate(size)


def args(lab, **overrides):
    values = dict(image=lab.image, size='20G', alias=lab.alias)
    values.update(overrides)
    return values


def test_creates_attaches_and_aliases_then_no_change(run_module, lab):
    lab.add_loop(0, '/disk.img')  # another container's disk
    checked = run_module(loop_device, args(lab), check_mode=True, diff=True)
    assert checked['changed'] and checked['created'] and checked['attached']
    assert checked['device'] is None and checked['diff']['after']['device'] == '(new loop device)'
    assert not os.path.exists(lab.image) and not os.path.lexists(lab.alias)
    assert not any(call.startswith(('-f', '--direct-io')) for call in lab.calls())

    result = run_module(loop_device, args(lab), diff=True)
    device = str(lab.dev / 'loop1')
    assert (result['changed'], result['created'], result['attached']) == (True, True, True)
    assert result['device'] == device and result['direct_io'] is True
    assert result['size_bytes'] == 20 * GIB == os.stat(lab.image).st_size
    assert os.stat(lab.image).st_blocks == 0  # sparse
    assert os.readlink(lab.alias) == device
    assert '--direct-io=on %s %s' % (device, lab.image) in lab.calls()
    assert result['diff']['before']['device'] is None and result['diff']['after']['device'] == device

    again = run_module(loop_device, args(lab))
    assert (again['changed'], again['created'], again['attached'], again['device']) == (False, False, False, device)


def test_after_container_restart_recreates_node_and_alias(run_module, lab, tmp_path):
    sparse(lab.image, 20 * GIB)
    # attached before the restart; this container's path is a hard link away from the attacher's
    os.link(lab.image, str(tmp_path / 'std-as-seen-by-host.img'))
    lab.add_loop(0, '/disk.img')
    lab.add_loop(3, str(tmp_path / 'std-as-seen-by-host.img'))
    result = run_module(loop_device, args(lab))
    assert result['changed'] and not result['attached'] and not result['created']
    assert result['device'] == str(lab.dev / 'loop3') == os.readlink(lab.alias)
    assert open(lab.dev / 'loop3').read() == '7:3'
    assert not os.path.exists(lab.dev / 'loop0')  # foreign devices only probed through a temporary node
    assert sorted(os.listdir(lab.dev)) == ['loop3', 'nvme2n1']
    assert run_module(loop_device, args(lab))['changed'] is False


def test_size_accepts_units(run_module, lab):
    assert loop_device.parse_size(None, '10GiB') == 10 * GIB
    assert loop_device.parse_size(None, '512M') == 512 * 1024 ** 2
    assert loop_device.parse_size(None, '21474836480') == 20 * GIB
    for bad, message in (('lots', 'not a size'), ('1000', 'multiple of 512'), ('0', 'multiple of 512')):
        assert message in run_module(loop_device, args(lab, size=bad))['msg']


def test_larger_image_is_never_shrunk(run_module, lab):
    sparse(lab.image, 21 * GIB)
    result = run_module(loop_device, args(lab, grow=True))
    assert result['failed'] and 'never shrunk' in result['msg'] and str(21 * GIB) in result['msg']
    assert os.stat(lab.image).st_size == 21 * GIB


def test_smaller_image_needs_grow(run_module, lab):
    sparse(lab.image, 10 * GIB)
    result = run_module(loop_device, args(lab))
    assert result['failed'] and 'grow: true' in result['msg'] and str(10 * GIB) in result['msg']
    assert os.stat(lab.image).st_size == 10 * GIB and lab.calls() == []


def test_grow_extends_and_refreshes_capacity(run_module, lab):
    sparse(lab.image, 10 * GIB)
    lab.add_loop(0, lab.image)
    (lab.dev / 'loop0').write_text('7:0')
    checked = run_module(loop_device, args(lab, grow=True), check_mode=True)
    assert checked['changed'] and os.stat(lab.image).st_size == 10 * GIB
    result = run_module(loop_device, args(lab, grow=True))
    assert result['changed'] and result['size_bytes'] == 20 * GIB == os.stat(lab.image).st_size
    assert '-c %s' % (lab.dev / 'loop0') in lab.calls()
    assert run_module(loop_device, args(lab, grow=True))['changed'] is False


def test_missing_image_errors(run_module, lab):
    assert 'give size' in run_module(loop_device, args(lab, size=None))['msg']
    result = run_module(loop_device, args(lab, image=str(lab.root / 'nope' / 'std.img')))
    assert 'folder %s does not exist' % (lab.root / 'nope') in result['msg']
    assert not os.path.exists(lab.root / 'nope')


@pytest.mark.parametrize('image, message', [
    ('', 'image is empty: it must be an absolute path'),
    ('VirtualDisk.img', 'image VirtualDisk.img is a relative path'),
    ('/data/../etc/passwd', 'image /data/../etc/passwd is not a normalised path'),
    ('/', 'image is /, the root folder'),
    ('/etc/passwd', 'image /etc/passwd is in /etc, which belongs to the operating system'),
    ('/dev/sda', 'image /dev/sda is in /dev'),
])
def test_an_image_that_is_not_ours_is_refused_before_anything_is_looked_at(run_module, lab, image, message):
    result = run_module(loop_device, args(lab, image=image, grow=True))
    assert result['failed'] and message in result['msg'], result['msg']
    assert 'grow' not in result['msg'] and 'force' not in result['msg'] and lab.calls() == []


def test_alias_must_be_directly_under_dev(run_module, lab):
    result = run_module(loop_device, args(lab, alias=str(lab.dev / 'disk' / 'nvme2n1')))
    assert result['failed'] and 'directly under' in result['msg'] and lab.calls() == []


def test_alias_replaces_symlinks_but_not_files_unless_forced(run_module, lab):
    os.symlink('/dev/loop7', lab.alias)
    result = run_module(loop_device, args(lab))
    assert result['changed'] and os.readlink(lab.alias) == result['device'] == str(lab.dev / 'loop0')
    os.unlink(lab.alias)
    lab.add_loop(9)  # free
    with open(lab.alias, 'w') as handle:
        handle.write('a real disk')
    refused = run_module(loop_device, args(lab, image=str(lab.root / 'data' / 'new.img')))
    assert refused['failed'] and 'not a symlink' in refused['msg'] and os.path.isfile(lab.alias)
    assert not os.path.exists(lab.root / 'data' / 'new.img')  # refused before changing anything
    forced = run_module(loop_device, args(lab, force=True))
    assert forced['changed'] and os.readlink(lab.alias) == str(lab.dev / 'loop0')


def test_direct_io_is_switched_and_checked(run_module, lab, monkeypatch):
    sparse(lab.image, 20 * GIB)
    lab.add_loop(0, lab.image, dio='0')
    (lab.dev / 'loop0').write_text('7:0')
    result = run_module(loop_device, args(lab), diff=True)
    assert result['changed'] and result['direct_io'] is True
    assert result['diff']['before']['direct_io'] is False and result['diff']['after']['direct_io'] is True
    off = run_module(loop_device, args(lab, direct_io=False))
    assert off['changed'] and off['direct_io'] is False
    assert '--direct-io=off %s' % (lab.dev / 'loop0') in lab.calls()
    monkeypatch.setenv('LOSETUP_FAKE_NO_DIO', '1')
    refused = run_module(loop_device, args(lab))
    assert refused['failed'] and 'did not enable direct I/O' in refused['msg']


def test_attach_retries_after_losing_a_race_then_gives_up(run_module, lab, monkeypatch):
    monkeypatch.setenv('LOSETUP_FAKE_BUSY', '1')
    assert run_module(loop_device, args(lab))['device'] == str(lab.dev / 'loop1')
    monkeypatch.setenv('LOSETUP_FAKE_BUSY', '99')
    result = run_module(loop_device, args(lab, image=str(lab.root / 'data' / 'other.img')))
    assert result['failed'] and 'Device or resource busy' in result['msg']
    assert lab.calls().count('-f') == 2 + loop.ATTACH_ATTEMPTS


def absent(lab, **overrides):
    return args(lab, size=None, state='absent', **overrides)


@pytest.fixture
def attached(lab):
    sparse(lab.image, 20 * GIB)
    lab.add_loop(0, '/disk.img')
    lab.add_loop(1, lab.image)
    (lab.dev / 'loop1').write_text('7:1')
    os.symlink(str(lab.dev / 'loop1'), lab.alias)
    return lab


def test_absent_detaches_only_this_image(run_module, attached):
    lab = attached
    checked = run_module(loop_device, absent(lab), check_mode=True, diff=True)
    assert checked['changed'] and os.path.lexists(lab.alias)
    assert checked['diff']['before']['device'] == str(lab.dev / 'loop1') and checked['diff']['after']['device'] is None
    assert not any(call.startswith('-d') for call in lab.calls())
    result = run_module(loop_device, absent(lab))
    assert result['changed'] and not os.path.lexists(lab.alias) and os.path.exists(lab.image)
    assert [call for call in lab.calls() if call.startswith('-d')] == ['-d %s' % (lab.dev / 'loop1')]
    assert run_module(loop_device, absent(lab))['changed'] is False


def test_absent_removes_image_and_leaves_a_foreign_alias(run_module, attached):
    lab = attached
    os.unlink(lab.alias)
    os.symlink('/dev/loop0', lab.alias)
    result = run_module(loop_device, absent(lab, remove_image=True))
    assert result['changed'] and not os.path.exists(lab.image)
    assert os.readlink(lab.alias) == '/dev/loop0'
    assert run_module(loop_device, absent(lab, remove_image=True))['changed'] is False


@pytest.mark.parametrize('users, expected', [
    (dict(mounts=['/srv/std']), 'mounted on /srv/std'),
    (dict(holders=['dm-0']), 'held by dm-0'),
    (dict(openers=[(4242, 'pfsdaemon'), (4250, 'postgres')]), 'open by pfsdaemon (pid 4242), postgres (pid 4250)'),
    (dict(busy=True), 'mounted in another container'),
])
def test_absent_refuses_a_device_in_use_unless_forced(run_module, attached, users, expected):
    lab = attached
    lab.users.update(users)
    refused = run_module(loop_device, absent(lab))
    assert refused['failed'] and expected in refused['msg'] and 'force: true' in refused['msg']
    assert not any(call.startswith('-d') for call in lab.calls()) and os.path.lexists(lab.alias)
    forced = run_module(loop_device, absent(lab, force=True))
    assert forced['changed'] and '-d %s' % (lab.dev / 'loop1') in lab.calls()


def test_forced_detach_of_a_busy_device_warns(run_module, attached, monkeypatch):
    attached.users['openers'] = [(4242, 'pfsdaemon')]
    monkeypatch.setenv('LOSETUP_FAKE_IN_USE', '1')
    warnings = []
    monkeypatch.setattr(loop_device.AnsibleModule, 'warn', lambda self, text: warnings.append(text))
    assert run_module(loop_device, absent(attached, force=True))['changed']
    assert warnings == ['loop1 stays attached until its last user closes it']


def test_absent_when_image_and_devices_are_gone(run_module, lab):
    lab.add_loop(0, '/disk.img')
    result = run_module(loop_device, absent(lab, remove_image=True))
    assert result['changed'] is False and result['device'] is None and lab.calls() == []


def test_waits_for_the_image_folders_lock_before_deciding(run_module, lab):
    import fcntl
    import threading
    holder = os.open(os.path.dirname(lab.image), os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)   # another run, deciding about the same folder
    results = []
    worker = threading.Thread(target=lambda: results.append(run_module(loop_device, args(lab))))
    worker.start()
    try:
        worker.join(0.5)
        assert worker.is_alive() and lab.calls() == [] and not os.path.exists(lab.image), \
            'decided while another run held the folder'
    finally:
        os.close(holder)
    worker.join(10)
    assert results and results[0]['attached'] is True
    assert [call for call in lab.calls() if call.startswith('--direct-io')] != []
