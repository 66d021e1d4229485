import os
import pathlib
import sys

import pytest

from ansible.module_utils import basic
from ansible_collections.polardb.cluster.plugins.modules import pfs_mkfs

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'fakes'))
import pfs_state  # noqa: E402

GIB = 1024 ** 3
EXT4 = {'type': 'ext4', 'usage': 'filesystem', 'offset': 1080}


@pytest.fixture
def lab(tmp_path, fake_bin, monkeypatch):
    """Fake pfs on PATH, a fake /dev, /proc and run dir; blockdev answers from the fake's state."""
    state = tmp_path / 'state.json'
    monkeypatch.setenv('FAKE_PFS_STATE', str(state))
    pfs_state.install(fake_bin, names=('pfs',))
    monkeypatch.setattr(pfs_mkfs, 'DEV_DIR', str(tmp_path / 'dev'))
    monkeypatch.setattr(pfs_mkfs, 'PROC_ROOT', str(tmp_path / 'proc'))
    disks = lambda: pfs_state.read_state(state)['disks']  # noqa: E731
    monkeypatch.setattr(pfs_mkfs, 'device_size', lambda path: disks()[os.path.basename(path)]['size'])
    monkeypatch.setattr(pfs_mkfs, 'signatures',
                        lambda module, path: [EXT4] if disks()[os.path.basename(path)]['foreign'] else [])
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, text: warnings.append(text))

    class Lab(object):
        def setup(self, **disks):
            pfs_state.make_state(state, disks=disks, dev_dir=tmp_path / 'dev', proc_root=tmp_path / 'proc',
                                 run_dir=tmp_path / 'run')

        def mkfs_calls(self):
            return [argv[3:] for argv in pfs_state.calls(state, 'pfs') if argv[3:4] == ['mkfs']]

        def disk(self, name='nvme2n1'):
            return pfs_state.read_state(state)['disks'][name]

        def args(self, **overrides):
            # pfs_path explicit: get_bin_path looks in /usr/local/bin (a real pfs?) before PATH
            values = dict(disk='nvme2n1', pfs_path=str(fake_bin / 'pfs'))
            values.update(overrides)
            return values

    lab = Lab()
    lab.state, lab.tmp, lab.warnings = state, tmp_path, warnings
    return lab


def test_formats_a_fresh_disk_then_reports_no_change(run_module, lab):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB))
    result = run_module(pfs_mkfs, lab.args(), diff=True)
    assert 'failed' not in result and result['changed'] is True
    assert (result['formatted_before'], result['formatted'], result['chunks'], result['size_bytes']) == \
        (False, True, 2, 21474836480)
    assert result['forced'] is False and result['signatures'] == []
    assert result['diff'] == {'before': {'formatted': False, 'signatures': []},
                              'after': {'formatted': True, 'signatures': [], 'wiped': False}}
    assert lab.mkfs_calls() == [['mkfs', 'nvme2n1']]
    assert lab.disk()['formatted'] is True

    again = run_module(pfs_mkfs, lab.args())
    assert again['changed'] is False and again['formatted_before'] is True
    assert (again['chunks'], again['size_bytes']) == (2, 21474836480)   # from pfs info
    assert lab.mkfs_calls() == [['mkfs', 'nvme2n1']]


def test_exactly_ten_gib_formats(run_module, lab):
    lab.setup(nvme2n1=pfs_state.disk(10 * GIB))
    result = run_module(pfs_mkfs, lab.args())
    assert result['changed'] is True and result['chunks'] == 1 and result['device_bytes'] == 10 * GIB


@pytest.mark.parametrize('size', [10 * GIB - 512, 5 * GIB, 1 * GIB])
def test_smaller_disks_fail_before_mkfs(run_module, lab, size):
    lab.setup(nvme2n1=pfs_state.disk(size))
    result = run_module(pfs_mkfs, lab.args())
    assert result['failed'] and str(size) in result['msg'] and '10737418240' in result['msg']
    assert lab.mkfs_calls() == []


def test_missing_device_fails_pointing_at_loop_device(run_module, lab):
    lab.setup()
    result = run_module(pfs_mkfs, lab.args())
    assert result['failed'] and 'does not exist' in result['msg'] and 'polardb.cluster.loop_device' in result['msg']
    assert pfs_state.calls(lab.state) == []


@pytest.mark.parametrize('name', ['dev/nvme2n1', '/dev/nvme2n1', '..', ''])
def test_rejects_names_that_are_not_plain_device_names(run_module, lab, name):
    lab.setup()
    result = run_module(pfs_mkfs, lab.args(disk=name))
    assert result['failed'] and 'device name under /dev' in result['msg']


def test_refuses_a_disk_holding_another_filesystem(run_module, lab):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB, foreign='ext4'))
    result = run_module(pfs_mkfs, lab.args())
    assert result['failed'] and 'ext4 (filesystem)' in result['msg'] and 'force' in result['msg']
    assert result['signatures'] == [EXT4]
    assert lab.mkfs_calls() == [] and lab.disk()['foreign'] == 'ext4'


def test_force_wipes_a_foreign_filesystem_with_dash_f(run_module, lab):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB, foreign='ext4'))
    result = run_module(pfs_mkfs, lab.args(force=True), diff=True)
    assert result['changed'] and result['forced'] and result['formatted']
    assert result['diff']['before'] == {'formatted': False, 'signatures': ['ext4']}
    assert lab.mkfs_calls() == [['mkfs', '-f', 'nvme2n1']]
    assert lab.disk()['foreign'] is None


def test_force_leaves_an_existing_pfs_alone(run_module, lab):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB, formatted=True, files={'x': {'kind': 'Dir'}}))
    result = run_module(pfs_mkfs, lab.args(force=True))
    assert result['changed'] is False and result['formatted_before'] and not result['forced']
    assert lab.mkfs_calls() == [] and 'x' in lab.disk()['files']


def test_reformat_formats_an_existing_pfs_again(run_module, lab):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB, formatted=True, files={'x': {'kind': 'Dir'}}))
    result = run_module(pfs_mkfs, lab.args(reformat=True))
    assert result['changed'] and result['formatted_before'] and result['forced'] and result['chunks'] == 2
    assert lab.mkfs_calls() == [['mkfs', '-f', 'nvme2n1']]
    assert 'x' not in lab.disk()['files']


def test_force_on_a_blank_disk_does_not_pass_dash_f(run_module, lab):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB))
    result = run_module(pfs_mkfs, lab.args(force=True))
    assert result['changed'] and result['forced'] is False
    assert lab.mkfs_calls() == [['mkfs', 'nvme2n1']]


def test_refuses_to_format_while_pfsdaemon_serves_the_disk(run_module, lab):
    # the module's refusal is the only guard: the real mkfs -f formats under a running pfsd,
    # even while a client has the disk mounted through it (recorded in pfs-files.txt)
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB, formatted=True))
    pfs_state.show_daemon(pfs_state.read_state(lab.state), 'nvme2n1', 50, 1)   # as start_pfsd.sh leaves it
    result = run_module(pfs_mkfs, lab.args(reformat=True, pfsd_run_dir=str(lab.tmp / 'run')))
    assert result['failed'] and 'pfsdaemon (pid 50) serves nvme2n1' in result['msg']
    assert 'state=stopped' in result['msg']
    assert lab.mkfs_calls() == [] and lab.warnings == []


def test_refuses_under_a_daemon_that_lost_its_pid_file_and_says_so(run_module, lab):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB))
    pfs_state.add_process(lab.tmp / 'proc', 50, pfs_state.daemon_argv('nvme2n1', 1))
    result = run_module(pfs_mkfs, lab.args(pfsd_run_dir=str(lab.tmp / 'run')))
    assert result['failed'] and 'pid 50' in result['msg'] and 'state=stopped' in result['msg']
    assert lab.mkfs_calls() == []
    assert lab.warnings == ['pfsdaemon -p nvme2n1 runs as pid 50 but holds no lock on %s: another daemon for '
                            'the disk may have been started, or the file was removed'
                            % (lab.tmp / 'run' / 'pfsd_nvme2n1.pid')]


def test_a_refusal_from_pfs_itself_is_reported_with_its_rc(run_module, lab, monkeypatch):
    # the disk got PFS between the module's look and mkfs (another host formatted it): pfs says 16
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB, formatted=True))
    monkeypatch.setattr(pfs_mkfs.Pfs, 'is_formatted', lambda self, disk: False)
    result = run_module(pfs_mkfs, lab.args())
    assert result['failed'] and result['rc'] == 16 and 'already holds PFS; only reformat' in result['msg']
    assert result['msg'].endswith("mkfs isn't allowed because that chunk 0 maybe already formatted. "
                                  "If you are sure to do mkfs, run 'mkfs -f' instead.")
    assert result['stdout'] == '' and result['stderr'].startswith('pfs tool cmd record:mkfs nvme2n1 \n')
    assert lab.mkfs_calls() == [['mkfs', 'nvme2n1']]


def test_check_mode_predicts_without_formatting(run_module, lab):
    lab.setup(nvme2n1=pfs_state.disk(25 * GIB), old=pfs_state.disk(20 * GIB, formatted=True))
    result = run_module(pfs_mkfs, lab.args(), check_mode=True, diff=True)
    assert result['changed'] and result['formatted'] and result['chunks'] == 2
    assert result['diff']['after']['formatted'] is True
    assert lab.mkfs_calls() == [] and lab.disk()['formatted'] is False

    unchanged = run_module(pfs_mkfs, lab.args(disk='old'), check_mode=True)
    assert unchanged['changed'] is False and lab.mkfs_calls() == []


def test_fails_when_pfs_cannot_tell_the_format(run_module, lab, monkeypatch):
    lab.setup()
    (lab.tmp / 'dev' / 'ghost').write_text('')   # a node pfs cannot open: rc 255, no output (recorded)
    monkeypatch.setattr(pfs_mkfs, 'device_size', lambda path: 20 * GIB)
    result = run_module(pfs_mkfs, lab.args(disk='ghost'))
    assert result['failed'] and result['rc'] == 255 and 'cannot tell whether ghost holds PFS' in result['msg']


def test_fails_when_mkfs_claims_success_but_no_pfs_appears(run_module, lab, monkeypatch):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB))
    monkeypatch.setattr(pfs_mkfs.Pfs, 'is_formatted', lambda self, disk: False)
    result = run_module(pfs_mkfs, lab.args())
    assert result['failed'] and 'reported success' in result['msg']


def test_pfs_path_and_cluster_are_used(run_module, lab, fake_bin):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB))
    (fake_bin / 'pfs').unlink()
    (lab.tmp / 'opt').mkdir()
    pfs_state.install(lab.tmp / 'opt', names=('pfs',))
    result = run_module(pfs_mkfs, lab.args(pfs_path=str(lab.tmp / 'opt' / 'pfs'), cluster='c1'))
    assert result['changed'] and 'failed' not in result
    assert pfs_state.calls(lab.state, 'pfs')[-1][:3] == ['pfs', '-C', 'c1']


def test_looks_for_pfs_on_path_and_in_usr_local_bin_and_fails_without_it(run_module, lab, monkeypatch):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB))
    asked = []

    def get_bin_path(self, name, required=False, opt_dirs=None):
        asked.append((name, required, opt_dirs))
        self.fail_json(msg='Failed to find required executable "%s"' % name)
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', get_bin_path)
    result = run_module(pfs_mkfs, dict(disk='nvme2n1'))
    assert result['failed'] and 'executable "pfs"' in result['msg']
    assert asked == [('pfs', True, ['/usr/local/bin'])]


def test_a_device_whose_size_cannot_be_read_fails_with_a_message_not_a_traceback(run_module, lab, monkeypatch):
    lab.setup(nvme2n1=pfs_state.disk(20 * GIB))

    def denied(path):
        raise PermissionError(13, 'Permission denied', path)
    monkeypatch.setattr(pfs_mkfs, 'device_size', denied)
    result = run_module(pfs_mkfs, lab.args())
    assert result['failed'] and result['msg'].startswith('Cannot read the size of ')
    assert 'Permission denied' in result['msg'] and 'block device this user may open' in result['msg']
    assert lab.mkfs_calls() == []


# ---- a shared disk: the other hosts attaching it were asked (pfsd_info) ------------------------

IDLE_PB2 = dict(host='pb2', answered=True, pid=None, clients=[])


def test_refuses_to_reformat_a_shared_disk_while_another_host_runs_pfsd_and_a_database_on_it(run_module, lab):
    # this host's pfsd is stopped, so nothing here tells that pb2's replica lives on the disk
    lab.setup(nvme1n1=pfs_state.disk(20 * GIB, formatted=True))
    pb2 = dict(host='pb2', answered=True, pid=61, clients=['pid 90: postgres -D /home/postgres/replica'])
    result = run_module(pfs_mkfs, lab.args(disk='nvme1n1', reformat=True, shared_with=[IDLE_PB2, pb2],
                                           pfsd_run_dir=str(lab.tmp / 'run')))
    assert result['failed'] and result['changed'] is False
    assert ('nvme1n1 is shared, and formatting it is refused while another host uses it: pb2: pfsdaemon pid 61 '
            'serves it, in use by pid 90: postgres -D /home/postgres/replica') in result['msg']
    assert lab.mkfs_calls() == []


def test_refuses_to_format_a_shared_disk_when_a_host_sharing_it_could_not_be_asked(run_module, lab):
    lab.setup(nvme1n1=pfs_state.disk(20 * GIB))
    pb2 = dict(host='pb2', answered=False, error='Failed to create temporary directory: container not running')
    result = run_module(pfs_mkfs, lab.args(disk='nvme1n1', shared_with=[pb2], pfsd_run_dir=str(lab.tmp / 'run')))
    assert result['failed'] and 'cannot be asked whether it uses it: pb2 (Failed to create temporary' in result['msg']
    assert lab.mkfs_calls() == []


def test_formats_a_shared_disk_every_other_host_leaves_alone(run_module, lab):
    lab.setup(nvme1n1=pfs_state.disk(20 * GIB))
    result = run_module(pfs_mkfs, lab.args(disk='nvme1n1', shared_with=[IDLE_PB2], pfsd_run_dir=str(lab.tmp / 'run')))
    assert result['changed'] is True and lab.mkfs_calls() == [['mkfs', 'nvme1n1']]


def test_what_other_hosts_say_matters_only_when_it_would_format(run_module, lab):
    lab.setup(nvme1n1=pfs_state.disk(20 * GIB, formatted=True))
    pb2 = dict(host='pb2', answered=False, error='unreachable')
    result = run_module(pfs_mkfs, lab.args(disk='nvme1n1', shared_with=[pb2]))
    assert 'failed' not in result and result['changed'] is False


def test_refuses_while_a_database_here_still_uses_the_disk_without_pfsd(run_module, lab):
    lab.setup(nvme1n1=pfs_state.disk(20 * GIB, formatted=True))
    pfs_state.add_process(lab.tmp / 'proc', 90, ['postgres', '-D', '/home/postgres/primary'])
    (lab.tmp / 'run' / 'nvme1n1').mkdir(parents=True)
    (lab.tmp / 'run' / 'nvme1n1' / '90.pid').write_text('90')
    result = run_module(pfs_mkfs, lab.args(disk='nvme1n1', reformat=True, pfsd_run_dir=str(lab.tmp / 'run')))
    assert result['failed'] and '1 process(es) use nvme1n1 (pid 90: postgres -D /home/postgres/primary)' \
        in result['msg']
    assert lab.mkfs_calls() == []
