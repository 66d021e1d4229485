import pathlib
import re
import sys

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.polardb.cluster.plugins.module_utils import pfs as pfs_utils
from ansible_collections.polardb.cluster.plugins.module_utils.pfs import (
    PFS_MIN_DISK_BYTES, Pfs, PfsEntry, PfsError, PfsResult, parse_info, parse_ls, parse_mkfs, pfs_argument_spec)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'fakes'))
import pfs_state  # noqa: E402
import transcripts  # noqa: E402

GIB = 1024 ** 3

# Recorded in /work/shared/polardb-reference/pfsd-and-files.txt and pfs-mkfs.txt
RECORDED_LS = """  File  1     4194304           Wed Nov 25 03:11:31 2026  .pfs-paxos
  File  1     1073741824        Wed Nov 25 03:11:32 2026  .pfs-journal
   Dir  1     0                 Wed Nov 25 03:11:33 2026  x
   Dir  1     256               Wed Nov 25 03:11:34 2026  sd
total 2105344 (unit: 512Bytes)
"""
RECORDED_MKFS_20G = """Init chunk 0
\t\tmetaset        0/1: sectbda           0x1000, npage       80, objsize  128, nobj 2560, oid range [       0,      a00)
\t\tmetaset        0/2: sectbda          0x51000, npage       64, objsize  128, nobj 2048, oid range [       0,      800)
\t\tmetaset        0/3: sectbda          0x91000, npage       64, objsize  128, nobj 2048, oid range [       0,      800)

Init chunk 1
\t\tmetaset        1/1: sectbda      0x280001000, npage       80, objsize  128, nobj 2560, oid range [    1000,     1a00)
\t\tmetaset        1/2: sectbda      0x280051000, npage       64, objsize  128, nobj 2048, oid range [     800,     1000)
\t\tmetaset        1/3: sectbda      0x280091000, npage       64, objsize  128, nobj 2048, oid range [     800,     1000)

Inited filesystem(21474836480 bytes), 2 chunks, 2560 blktags, 2048 direntries, 2048 inodes per chunk
making paxos file
init paxos lease
making journal file
pfs mkfs succeeds!
"""
RECORDED_INFO = """Blktag Info:
 (0)allocnode: id 0, shift 0, nchild=2, nall 5120, nfree 4861, next 0
Direntry Info:
 (0)allocnode: id 0, shift 0, nchild=2, nall 4096, nfree 4093, next 0
Inode Info:
 (0)allocnode: id 0, shift 0, nchild=2, nall 4096, nfree 4093, next 0
"""


def test_parse_ls_reads_the_recorded_listing():
    entries, total = parse_ls(RECORDED_LS)
    assert entries[0] == PfsEntry('File', 1, 4194304, 'Wed Nov 25 03:11:31 2026', '.pfs-paxos')
    assert [(e.kind, e.size, e.name) for e in entries[1:]] == [
        ('File', 1073741824, '.pfs-journal'), ('Dir', 0, 'x'), ('Dir', 256, 'sd')]
    assert total == 2105344


def test_parse_ls_keeps_spaces_in_names_and_ignores_other_lines():
    text = 'pfs tool cmd record:ls /d/ \n   Dir  1     0                 Wed Nov  5 03:11:33 2026  my dir\n'
    entries, total = parse_ls(text)
    assert entries == [PfsEntry('Dir', 1, 0, 'Wed Nov  5 03:11:33 2026', 'my dir')]
    assert total is None
    assert parse_ls('') == ([], None)


def test_parse_mkfs_reads_size_and_chunks():
    assert parse_mkfs(RECORDED_MKFS_20G) == dict(size_bytes=21474836480, chunks=2)
    assert parse_mkfs('Inited filesystem(10737418240 bytes), 1 chunks, 2560 blktags') == \
        dict(size_bytes=10737418240, chunks=1)
    assert parse_mkfs('pfs mkfs failed!\nmkfs failed: impl specific\n') == dict(size_bytes=None, chunks=None)


def test_parse_info_reads_the_chunk_count():
    assert parse_info(RECORDED_INFO) == dict(chunks=2)
    assert parse_info('') == dict(chunks=None)


def test_the_minimum_and_its_hint_agree_with_the_recorded_refusal():
    # the real pfs refused a 5 GiB disk with rc 234 and formatted one of exactly 10 GiB
    refused = transcripts.find('pfs-files.txt', 'pfs -C disk mkfs nvme3n1')
    assert refused.rc == pfs_utils.RC_TOO_SMALL
    assert 'pbd disk size must be greater than 10GB!' in refused.stderr
    assert 5 * GIB < PFS_MIN_DISK_BYTES <= 10 * GIB
    assert '%d bytes' % PFS_MIN_DISK_BYTES in pfs_utils.MKFS_HINTS[pfs_utils.RC_TOO_SMALL]


def test_a_module_takes_the_cluster_and_tool_path_options():
    with patch_module_args({'cluster': 'other', 'pfs_path': '/opt/pfs'}):
        module = AnsibleModule(argument_spec=pfs_argument_spec())
    given = Pfs(module, module.params['cluster'], module.params['pfs_path'])
    assert (given.cluster, given.binary) == ('other', '/opt/pfs')
    with patch_module_args({}):
        defaults = AnsibleModule(argument_spec=pfs_argument_spec()).params
    assert (defaults['cluster'], defaults['pfs_path']) == ('disk', None)


def test_pfs_error_names_command_rc_and_stderr():
    result = PfsResult(['/usr/local/bin/pfs', '-C', 'disk', 'mkfs', 'd'], 16, '', 'ERR mkfs isn\'t allowed\n')
    error = PfsError(result, 'already formatted')
    assert error.result is result
    assert str(error) == "'/usr/local/bin/pfs -C disk mkfs d' failed with rc 16 (already formatted): " \
                         "ERR mkfs isn't allowed"


@pytest.fixture
def state(tmp_path, fake_bin, monkeypatch):
    path = tmp_path / 'state.json'
    monkeypatch.setenv('FAKE_PFS_STATE', str(path))
    pfs_state.install(fake_bin, names=('pfs',))
    pfs_state.make_state(path, disks={
        'nvme2n1': pfs_state.disk(20 * GIB), 'ten': pfs_state.disk(10 * GIB), 'small': pfs_state.disk(5 * GIB),
        'fs': pfs_state.disk(20 * GIB, formatted=True)})
    return path


def new_module():
    with patch_module_args({}):
        return AnsibleModule(argument_spec={})


@pytest.fixture
def pfs(state, fake_bin):
    # pfs_path explicit: get_bin_path looks in /usr/local/bin (a real pfs?) before PATH
    return Pfs(new_module(), pfs_path=str(fake_bin / 'pfs'))


def test_binary_comes_from_pfs_path_or_a_search(monkeypatch):
    asked = []
    monkeypatch.setattr(AnsibleModule, 'get_bin_path',
                        lambda self, name, required=False, opt_dirs=None: asked.append((name, required, opt_dirs))
                        or '/found/pfs')
    found = Pfs(new_module())
    assert (found.binary, found.cluster) == ('/found/pfs', 'disk')
    assert asked == [('pfs', True, ['/usr/local/bin'])]
    given = Pfs(new_module(), 'other', '/opt/pfs')
    assert (given.binary, given.cluster, len(asked)) == ('/opt/pfs', 'other', 1)


def test_the_fake_replays_the_recorded_fresh_mkfs_exactly(pfs):
    recorded = transcripts.find('pfs-files.txt', 'pfs -C disk mkfs nvme2n1', nth=1)   # after /var/run/pfs was made
    result = pfs.run(['mkfs', 'nvme2n1'])
    assert (result.rc, result.stdout, transcripts.normalise(result.stderr)) == \
        (recorded.rc, recorded.stdout, transcripts.normalise(recorded.stderr))
    assert result.stdout == RECORDED_MKFS_20G
    assert result.argv == [pfs.binary, '-C', 'disk', 'mkfs', 'nvme2n1']
    assert pfs.run(['info', 'nvme2n1']).stdout == RECORDED_INFO


def test_is_formatted_follows_ls_exit_codes(pfs):
    assert pfs.is_formatted('nvme2n1') is False   # rc 5
    assert pfs.is_formatted('fs') is True          # rc 0
    with pytest.raises(PfsError) as caught:
        pfs.is_formatted('nodisk')                 # no /dev/nodisk: rc 255, no output
    assert caught.value.result.rc == 255 and 'cannot tell whether nodisk holds PFS' in str(caught.value)


def test_mkfs_fresh_then_refused_then_forced(pfs, state):
    assert pfs.mkfs('nvme2n1') == dict(size_bytes=21474836480, chunks=2)
    with pytest.raises(PfsError) as caught:
        pfs.mkfs('nvme2n1')
    assert caught.value.result.rc == 16 and "maybe already formatted" in str(caught.value)
    assert pfs.mkfs('nvme2n1', force=True)['chunks'] == 2
    mkfs_calls = [argv[3:] for argv in pfs_state.calls(state, 'pfs') if argv[3] == 'mkfs']
    assert mkfs_calls == [['mkfs', 'nvme2n1'], ['mkfs', 'nvme2n1'], ['mkfs', '-f', 'nvme2n1']]


@pytest.mark.parametrize('disk, rc, words', [
    ('small', 234, 'must be greater than 10GB'), ('nodisk', 22, 'cant open /dev/nodisk')])
def test_mkfs_failures_raise_with_the_recorded_rc(pfs, disk, rc, words):
    with pytest.raises(PfsError) as caught:
        pfs.mkfs(disk)
    assert caught.value.result.rc == rc and words in str(caught.value)
    assert pfs_utils.MKFS_HINTS[rc] in str(caught.value)


def test_exactly_ten_gib_formats(pfs):
    assert pfs.mkfs('ten') == dict(size_bytes=10 * GIB, chunks=1)


def test_files_mkdir_cp_ls_rm(pfs, tmp_path):
    source = tmp_path / 'sd'
    (source / 'base' / '1').mkdir(parents=True)
    (source / 'standby.signal').write_text('')
    (source / 'base' / '1' / 'f').write_text('x' * 1000)
    assert pfs.mkdir('/fs/x') is True
    assert pfs.mkdir('/fs/x') is False
    with pytest.raises(PfsError, match='File exists'):
        pfs.mkdir('/fs/x', exist_ok=False)
    copied = pfs.cp_r(str(source), '/fs/')
    assert 'copy file from %s/standby.signal to /fs//sd/standby.signal succeeded' % source in copied.stdout
    assert pfs.cp_r(str(source), '/fs/').rc == 0   # a second copy overwrites
    assert [e.name for e in pfs.ls('/fs/')] == ['.pfs-paxos', '.pfs-journal', 'x', 'sd']
    assert [(e.kind, e.name, e.size) for e in pfs.ls('/fs/sd')] == [('File', 'standby.signal', 0),
                                                                     ('Dir', 'base', 128)]
    assert pfs.ls('/fs/missing') is None
    assert pfs.exists('/fs/sd/base/1/f') and not pfs.exists('/fs/missing')
    assert pfs.rm('/fs/sd/standby.signal') is True
    assert pfs.rm('/fs/sd/standby.signal') is False
    with pytest.raises(PfsError, match='No such file'):
        pfs.rm('/fs/sd/standby.signal', missing_ok=False)
    with pytest.raises(PfsError, match='impl specific'):
        pfs.rm('/fs/sd')
    assert pfs.rm('/fs/sd', recursive=True) is True
    assert pfs.ls('/fs/sd') is None


def test_cp_r_of_a_missing_source_raises(pfs, tmp_path):
    with pytest.raises(PfsError) as caught:
        pfs.cp_r(str(tmp_path / 'nothing'), '/fs/')
    assert caught.value.result.rc == 255


def test_ls_and_exists_on_an_unformatted_disk_raise(pfs):
    for call in (lambda: pfs.ls('/nvme2n1/x'), lambda: pfs.exists('/nvme2n1/x')):
        with pytest.raises(PfsError) as caught:
            call()
        assert caught.value.result.rc == 5


def test_info_returns_chunks(pfs):
    assert pfs.info('fs') == dict(chunks=2)


# ---- reasons, the root hint and the run directory, on the recorded outputs ----------------

def recorded_result(command, nth=0):
    run = transcripts.find('pfs-files.txt', command, nth)
    return PfsResult(command.split(), run.rc, run.stdout, run.stderr)


@pytest.mark.parametrize('command, nth, expected', [
    ('runuser -u postgres -- pfs -C disk cp -r /tmp/sd /nvme2n1/', 0, ['cp failed: Input/output error']),
    ('pfs -C disk mkfs nvme3n1', 0, ['pfs mkfs failed!', 'mkfs failed: impl specific',
                                     'pbd disk size must be greater than 10GB!']),
    ('pfs -C disk mkfs nvme2n1', 0, ['pfs mkfs failed!', 'mkfs failed: No such file or directory',
                                     'cant open file /var/run/pfs/nvme2n1-paxos-hostid, err=-1, errno=2',
                                     'paxos_hostid_local_lock:473 failed, error 13: Permission denied']),
    ('pfs -C disk mkfs nvme2n1', 2, ["mkfs isn't allowed because that chunk 0 maybe already formatted. "
                                     "If you are sure to do mkfs, run 'mkfs -f' instead."]),
    ('pfs -C disk cp -r /tmp/nosuchdir /nvme2n1/', 0, ['cp failed: No such file or directory']),
    ('pfs -C disk ls /nvme2n1/missing', 0, ['ls failed: No such file or directory']),
])
def test_reason_lines_keep_the_verdicts_and_err_lines_of_recorded_failures(command, nth, expected):
    result = recorded_result(command, nth)
    assert result.rc != 0
    assert pfs_utils.reason_lines(result) == expected


def test_reason_lines_drop_the_trace_of_every_recorded_failure():
    failures = [run for run in transcripts.load('pfs-files.txt') if run.rc != 0 and ' pfs ' in ' %s ' % run.command]
    assert len(failures) >= 15
    for run in failures:
        lines = pfs_utils.reason_lines(PfsResult(run.command.split(), run.rc, run.stdout, run.stderr))
        assert len(lines) <= 5, run.command
        assert not [line for line in lines if ' INF ' in line or 'INF [' in line or 'pfs build version' in line
                    or 'caller:' in line or line.startswith('pfs tool cmd record:')], (run.command, lines)
        for error in re.findall(r' ERR \[\d+\] (.*)$', run.stderr, re.M):
            assert error.strip() in lines, (run.command, error, lines)


def test_pfs_error_of_a_recorded_mkfs_names_the_reason_without_the_trace():
    error = PfsError(recorded_result('pfs -C disk mkfs nvme3n1'), pfs_utils.MKFS_HINTS[234])
    assert str(error) == ("'pfs -C disk mkfs nvme3n1' failed with rc 234 (PFS needs a disk of at least 10 GiB "
                          "(10737418240 bytes)): pfs mkfs failed! | mkfs failed: impl specific | "
                          "pbd disk size must be greater than 10GB!")


def test_needs_root_hint_for_a_write_that_failed_with_an_io_error_as_another_user(monkeypatch):
    result = recorded_result('runuser -u postgres -- pfs -C disk cp -r /tmp/sd /nvme2n1/')
    monkeypatch.setattr(pfs_utils.os, 'geteuid', lambda: 1000)
    hint = pfs_utils.needs_root_hint(['cp', '-r', '/tmp/sd', '/nvme2n1/'], result)
    assert 'pfs cp opens the disk read-write, which needs root' in hint and 'uid 1000' in hint
    assert pfs_utils.needs_root_hint(['ls', '/nvme2n1/'], result) is None
    other = recorded_result('pfs -C disk cp -r /tmp/nosuchdir /nvme2n1/')
    assert pfs_utils.needs_root_hint(['cp', '-r', '/tmp/nosuchdir', '/nvme2n1/'], other) is None
    monkeypatch.setattr(pfs_utils.os, 'geteuid', lambda: 0)
    assert pfs_utils.needs_root_hint(['cp', '-r', '/tmp/sd', '/nvme2n1/'], result) is None


@pytest.mark.parametrize('command', ['runuser -u postgres -- pfs -C disk mkdir /nvme2n1/y',
                                     'runuser -u postgres -- pfs -C disk rm -r /nvme2n1/x'])
def test_needs_root_hint_for_a_silent_write_failure_as_another_user(monkeypatch, command):
    result = recorded_result(command)
    assert (result.rc, result.stdout, result.stderr) == (255, '', '')
    monkeypatch.setattr(pfs_utils.os, 'geteuid', lambda: 1000)
    assert pfs_utils.needs_root_hint(command.split()[7:], result)


def test_a_write_as_another_user_fails_like_the_real_one_and_says_why(pfs, monkeypatch, tmp_path):
    (tmp_path / 'sd').mkdir()
    monkeypatch.setenv('FAKE_PFS_NONROOT', '1')
    monkeypatch.setattr(pfs_utils.os, 'geteuid', lambda: 1000)
    with pytest.raises(PfsError) as caught:
        pfs.cp_r(str(tmp_path / 'sd'), '/fs/')
    assert caught.value.result.rc == 255
    assert str(caught.value).endswith('(pfs cp opens the disk read-write, which needs root; this ran as uid 1000: '
                                      'run it as root (become without become_user)): cp failed: Input/output error')


def test_ensure_run_dir_creates_a_folder_every_client_may_write(pfs_run_dir):
    assert pfs_utils.RUN_DIR == str(pfs_run_dir) != '/var/run/pfs'   # no unit test touches the real one
    assert not pfs_run_dir.exists()
    pfs_utils.ensure_run_dir()
    assert pfs_run_dir.is_dir() and pfs_run_dir.stat().st_mode & 0o7777 == 0o777
    pfs_run_dir.chmod(0o755)
    pfs_utils.ensure_run_dir()                     # an existing folder is left as it is
    assert pfs_run_dir.stat().st_mode & 0o7777 == 0o755
    other = pfs_run_dir.parent / 'elsewhere' / 'pfs'
    pfs_utils.ensure_run_dir(str(other))
    assert other.is_dir() and other.stat().st_mode & 0o777 == 0o777


def test_writes_make_the_run_dir_first_without_it_pfs_fails_as_recorded(pfs, pfs_run_dir, monkeypatch):
    assert pfs.mkdir('/fs/x') is True and pfs_run_dir.is_dir()
    pfs_run_dir.rmdir()
    assert pfs.ls('/fs/') is not None and not pfs_run_dir.exists()    # reads do not need it
    monkeypatch.setattr(pfs_utils, 'ensure_run_dir', lambda path=None: None)
    with pytest.raises(PfsError) as caught:
        pfs.mkdir('/fs/y')
    assert (caught.value.result.rc, caught.value.result.stdout, caught.value.result.stderr) == (255, '', '')


def test_size_and_empty_walk_a_copied_tree(pfs, tmp_path):
    source = tmp_path / 'sd'
    (source / 'base' / '1').mkdir(parents=True)
    (source / 'base' / '1' / 'f').write_text('x' * 1000)
    (source / 'PG_VERSION').write_text('15\n')
    pfs.cp_r(str(source), '/fs/')
    assert pfs.size('/fs/sd') == 1003 and pfs.size('/fs/missing') == 0
    pfs.empty('/fs/sd')
    assert pfs.ls('/fs/sd') == [] and pfs.size('/fs/sd') == 0
    pfs.empty('/fs/sd', remove_dir=True)
    assert pfs.ls('/fs/sd') is None
    pfs.empty('/fs/sd', remove_dir=True)   # already gone: nothing to do
    pfs.empty('/fs/sd')
