import pathlib
import sys

import pytest

from ansible.module_utils import basic
from ansible_collections.polardb.cluster.plugins.modules import pfsd

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'fakes'))
import pfs_state  # noqa: E402

GIB = 1024 ** 3


@pytest.fixture
def lab(tmp_path, fake_bin, monkeypatch):
    """Fake pfs and pfsd scripts; the fake daemons show up in a fake /proc and run dir."""
    state = tmp_path / 'state.json'
    monkeypatch.setenv('FAKE_PFS_STATE', str(state))
    pfs_state.install(fake_bin, names=('pfs',))
    (tmp_path / 'pfsd' / 'bin').mkdir(parents=True)
    pfs_state.install(tmp_path / 'pfsd' / 'bin', names=('start_pfsd.sh', 'stop_pfsd.sh'))
    monkeypatch.setattr(pfsd, 'DEV_DIR', str(tmp_path / 'dev'))
    monkeypatch.setattr(pfsd, 'PROC_ROOT', str(tmp_path / 'proc'))
    monkeypatch.setattr(pfsd, 'LOG_PATH', str(tmp_path / 'log' / 'pfsd-%s' / 'pfsd.log'))
    monkeypatch.setattr(pfsd, 'POLL_INTERVAL', 0.01)
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, text: warnings.append(text))

    class Lab(object):
        tmp = tmp_path

        def setup(self, **extra):
            values = dict(disks={'nvme2n1': pfs_state.disk(20 * GIB, formatted=True)}, dev_dir=tmp_path / 'dev',
                          proc_root=tmp_path / 'proc', run_dir=tmp_path / 'run', log_dir=tmp_path / 'log')
            values.update(extra)
            pfs_state.make_state(state, **values)

        def args(self, **overrides):
            values = dict(disk='nvme2n1', pfsd_home=str(tmp_path / 'pfsd'), run_dir=str(tmp_path / 'run'),
                          pfs_path=str(fake_bin / 'pfs'), timeout=1)
            values.update(overrides)
            return values

        def calls(self, program):
            return [argv[1:] for argv in pfs_state.calls(state, program)]

        def state(self):
            return pfs_state.read_state(state)

        def stop_daemon(self, stopped=True):
            pfs_state.stop_daemon(state, 'nvme2n1', stopped)

        def log(self):
            path = tmp_path / 'log' / 'pfsd-nvme2n1' / 'pfsd.log'
            return path.read_text() if path.exists() else ''

    lab = Lab()
    lab.warnings = warnings
    return lab


def test_starts_the_daemon_then_reports_no_change(run_module, lab):
    lab.setup()
    result = run_module(pfsd, lab.args(), diff=True)
    assert 'failed' not in result and result['changed'] is True
    assert (result['pid'], result['workers'], result['pidfile_locked'], result['state']) == (50, 1, True, 'started')
    # the pid file names the parent that wrote it before forking, as recorded; the lock ties it to the daemon
    assert (lab.tmp / 'run' / 'pfsd_nvme2n1.pid').read_text() == '49'
    assert result['diff'] == {'before': {'running': False, 'pid': None, 'workers': None},
                              'after': {'running': True, 'pid': 50, 'workers': 1}}
    assert lab.calls('start_pfsd.sh') == [['-p', 'nvme2n1', '-w', '1']]
    assert ['-C', 'disk', 'ls', '/nvme2n1/'] in lab.calls('pfs')   # waited until it serves a client
    assert lab.log().count('mount successed for nvme2n1') == 1

    again = run_module(pfsd, lab.args())
    assert again['changed'] is False and again['pid'] == 50
    assert len(lab.calls('start_pfsd.sh')) == 1


def test_passes_workers_and_extra_args(run_module, lab):
    lab.setup()
    result = run_module(pfsd, lab.args(workers=4, extra_args=['-s', '1']))
    assert result['workers'] == 4
    assert lab.calls('start_pfsd.sh') == [['-p', 'nvme2n1', '-w', '4', '-s', '1']]


def test_a_running_daemon_with_other_workers_is_reported_not_restarted(run_module, lab):
    lab.setup()
    run_module(pfsd, lab.args())
    result = run_module(pfsd, lab.args(workers=3))
    assert result['changed'] is False and result['workers_mismatch'] is True and result['workers'] == 1
    assert lab.warnings == ['pfsdaemon -p nvme2n1 (pid 50) runs with -w 1, not 3; use state=restarted to apply it']
    assert len(lab.calls('start_pfsd.sh')) == 1


def test_restarted_stops_and_starts_with_the_new_workers(run_module, lab):
    lab.setup()
    run_module(pfsd, lab.args())
    result = run_module(pfsd, lab.args(state='restarted', workers=3))
    assert result['changed'] is True and (result['pid'], result['workers']) == (51, 3)
    assert lab.calls('stop_pfsd.sh') == [['nvme2n1']]
    assert lab.calls('start_pfsd.sh')[-1] == ['-p', 'nvme2n1', '-w', '3']


def test_restarted_starts_a_stopped_daemon(run_module, lab):
    lab.setup()
    result = run_module(pfsd, lab.args(state='restarted'))
    assert result['changed'] is True and result['pid'] == 50
    assert lab.calls('stop_pfsd.sh') == []


def test_stops_the_daemon_then_reports_no_change(run_module, lab):
    lab.setup()
    run_module(pfsd, lab.args())
    result = run_module(pfsd, lab.args(state='stopped'), diff=True)
    assert result['changed'] is True and result['pid'] is None and result['pidfile_locked'] is False
    assert result['diff']['after'] == {'running': False, 'pid': None, 'workers': None}
    assert not (lab.tmp / 'proc' / '50').exists()
    assert (lab.tmp / 'run' / 'pfsd_nvme2n1.pid').exists()     # stop_pfsd.sh leaves it, as recorded
    again = run_module(pfsd, lab.args(state='stopped'))
    assert again['changed'] is False and lab.calls('stop_pfsd.sh') == [['nvme2n1']]


@pytest.mark.parametrize('state, running', [('started', False), ('stopped', True), ('restarted', True)])
def test_check_mode_runs_no_script(run_module, lab, state, running):
    lab.setup()
    if running:
        run_module(pfsd, lab.args())
    result = run_module(pfsd, lab.args(state=state), check_mode=True)
    assert result['changed'] is True
    assert lab.calls('start_pfsd.sh') == ([['-p', 'nvme2n1', '-w', '1']] if running else [])
    assert lab.calls('stop_pfsd.sh') == []


def test_refuses_to_start_for_a_missing_device(run_module, lab):
    lab.setup(disks={})
    result = run_module(pfsd, lab.args())
    assert result['failed'] and 'does not exist' in result['msg'] and 'useless daemon' in result['msg']
    assert lab.calls('start_pfsd.sh') == []


def test_refuses_to_start_for_an_unformatted_disk(run_module, lab):
    lab.setup(disks={'nvme2n1': pfs_state.disk(20 * GIB)})
    result = run_module(pfsd, lab.args(state='restarted'))
    assert result['failed'] and 'holds no PFS' in result['msg'] and 'pfs_mkfs' in result['msg']
    assert lab.calls('start_pfsd.sh') == []


def test_fails_when_pfs_cannot_read_the_disk(run_module, lab):
    lab.setup(disks={})
    (lab.tmp / 'dev' / 'nvme2n1').write_text('')   # node exists, but pfs cannot open it: rc 255, no output
    result = run_module(pfsd, lab.args())
    assert result['failed'] and 'rc 255' in result['msg'] and 'cannot tell whether nvme2n1 holds PFS' in result['msg']
    assert lab.calls('start_pfsd.sh') == []


def test_names_the_process_that_fools_start_pfsd(run_module, lab):
    lab.setup()
    pfs_state.add_process(lab.tmp / 'proc', 999, ['vim', '/root/pfsdaemon-nvme2n1.notes'])
    result = run_module(pfsd, lab.args())
    assert result['failed'] and "says 'nvme2n1 already exist'" in result['msg']
    assert 'pid 999: vim /root/pfsdaemon-nvme2n1.notes' in result['msg']


def test_fails_with_the_log_tail_when_the_daemon_does_not_come_up(run_module, lab):
    lab.setup(daemon_crashes=True)
    result = run_module(pfsd, lab.args(timeout=0))
    assert result['failed'] and 'did not come up within 0s' in result['msg']
    assert result['msg'].endswith('[PFSD] ERR open /dev/nvme2n1 failed: No such file or directory\npfsd exit')


def test_says_when_there_is_no_log(run_module, lab):
    lab.setup(daemon_crashes=True, log_dir=None)
    result = run_module(pfsd, lab.args(timeout=0))
    assert result['failed'] and 'No log at %s' % (lab.tmp / 'log' / 'pfsd-nvme2n1' / 'pfsd.log') in result['msg']


def test_fails_when_the_daemon_survives_stop(run_module, lab):
    lab.setup(stop_ignored=True)
    run_module(pfsd, lab.args())
    result = run_module(pfsd, lab.args(state='stopped', timeout=0))
    assert result['failed'] and 'still running after stop_pfsd.sh' in result['msg'] and 'pid now: 50' in result['msg']


def test_stop_trusts_proc_not_the_script(run_module, lab):
    # a daemon the script does not know about: it says 'not exist', the process stays
    lab.setup()
    pfs_state.add_process(lab.tmp / 'proc', 77, pfs_state.daemon_argv('nvme2n1', 1))
    result = run_module(pfsd, lab.args(state='stopped', timeout=0))
    assert result['failed'] and 'pfsdaemon -p nvme2n1 not exist' in result['msg']
    assert lab.warnings == ['pfsdaemon -p nvme2n1 runs as pid 77 but holds no lock on %s: another daemon for '
                            'the disk may have been started, or the file was removed'
                            % (lab.tmp / 'run' / 'pfsd_nvme2n1.pid')]


def test_starts_over_a_stale_pid_file_without_a_word(run_module, lab):
    # stop_pfsd.sh leaves the pid file behind (recorded): a stale file is normal, only the lock counts
    lab.setup()
    (lab.tmp / 'run' / 'pfsd_nvme2n1.pid').write_text('572')
    result = run_module(pfsd, lab.args())
    assert result['changed'] and result['pid'] == 50 and result['pidfile_locked'] is True
    assert lab.warnings == [] and (lab.tmp / 'run' / 'pfsd_nvme2n1.pid').read_text() == '49'


def test_a_second_daemon_for_the_disk_is_warned_about(run_module, lab):
    lab.setup()
    run_module(pfsd, lab.args())
    pfs_state.add_process(lab.tmp / 'proc', 80, pfs_state.daemon_argv('nvme2n1', 1))
    result = run_module(pfsd, lab.args())
    assert result['changed'] is False and result['pid'] == 50 and result['pidfile_locked'] is True
    assert lab.warnings == ['several pfsdaemon processes serve nvme2n1: 50, 80']


# ---- readiness: a daemon is up once it served a client (its log says so) --------------------

def test_a_running_daemon_that_serves_nobody_fails_started(run_module, lab):
    lab.setup()
    run_module(pfsd, lab.args())
    lab.stop_daemon()                       # as after SIGSTOP: still in /proc, holds its lock, answers nobody
    calls = len(lab.calls('pfs'))
    result = run_module(pfsd, lab.args(timeout=0))
    assert result['failed'] and 'runs (pid 50) but serves no client' in result['msg']
    assert 'restart it (state=restarted)' in result['msg']
    # pfs ls itself succeeded (it reads the disk without pfsd); only the log told
    assert lab.calls('pfs')[calls:] == [['-C', 'disk', 'ls', '/nvme2n1/']]
    assert lab.log().count('mount successed for nvme2n1') == 1       # the first run's, not this one's
    assert lab.calls('start_pfsd.sh') == [['-p', 'nvme2n1', '-w', '1']]


def test_a_served_client_makes_started_report_no_change(run_module, lab):
    lab.setup()
    run_module(pfsd, lab.args())
    lab.stop_daemon(False)
    result = run_module(pfsd, lab.args(timeout=0))
    assert 'failed' not in result and result['changed'] is False
    assert lab.log().count('mount successed for nvme2n1') == 2


def test_a_fresh_daemon_that_serves_nobody_did_not_come_up(run_module, lab):
    lab.setup(daemon_hangs=True)
    result = run_module(pfsd, lab.args(timeout=0))
    assert result['failed'] and 'pfsdaemon -p nvme2n1 did not come up within 0s (pid now: 50)' in result['msg']
    assert 'listen thread start working.' in result['msg']                      # the log's tail
    assert ['-C', 'disk', 'ls', '/nvme2n1/'] in lab.calls('pfs')


def test_an_old_mount_line_in_the_log_does_not_count(run_module, lab):
    lab.setup(daemon_hangs=True)
    log = lab.tmp / 'log' / 'pfsd-nvme2n1' / 'pfsd.log'
    log.parent.mkdir(parents=True)
    log.write_text('2026-11-25 14:01:33.468386|INFO |pfsd_chnl_shm.cc:58|mount successed for nvme2n1\n')
    result = run_module(pfsd, lab.args(timeout=0))
    assert result['failed'] and 'did not come up' in result['msg']


def test_waits_until_the_daemon_serves(run_module, lab, monkeypatch):
    lab.setup(daemon_hangs=True)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 3:
            lab.stop_daemon(False)          # it answers from the fourth try on
    monkeypatch.setattr(pfsd.time, 'sleep', sleep)
    result = run_module(pfsd, lab.args(timeout=60))
    assert 'failed' not in result and result['changed'] and len(waits) == 3
    assert lab.calls('pfs').count(['-C', 'disk', 'ls', '/nvme2n1/']) == 4 + 1   # 1: the format check


def test_fails_on_other_script_errors(run_module, lab):
    lab.setup()
    script = lab.tmp / 'pfsd' / 'bin' / 'start_pfsd.sh'
    script.unlink()
    script.write_text('#!/bin/sh\necho "permission denied" >&2\nexit 3\n')
    script.chmod(0o755)
    result = run_module(pfsd, lab.args())
    assert result['failed'] and result['rc'] == 3 and result['stderr'].strip() == 'permission denied'
    assert result['msg'] == 'start_pfsd.sh -p nvme2n1 failed with rc 3: permission denied', result['msg']


def test_fails_when_the_scripts_are_missing(run_module, lab):
    lab.setup()
    result = run_module(pfsd, lab.args(pfsd_home=str(lab.tmp / 'nowhere')))
    assert result['failed'] and 'start_pfsd.sh is missing' in result['msg'] and 'pfsd_home' in result['msg']


@pytest.mark.parametrize('overrides, words', [
    (dict(disk='/dev/nvme2n1'), 'device name under /dev'), (dict(workers=0), 'workers must be at least 1'),
    (dict(timeout=-1), 'timeout not negative')])
def test_rejects_bad_arguments(run_module, lab, overrides, words):
    lab.setup()
    result = run_module(pfsd, lab.args(**overrides))
    assert result['failed'] and words in result['msg']


def test_warns_when_a_running_daemon_serves_a_missing_device(run_module, lab):
    lab.setup(disks={'nosuchdisk': pfs_state.disk(20 * GIB, formatted=True)})
    run_module(pfsd, lab.args(disk='nosuchdisk'))
    (lab.tmp / 'dev' / 'nosuchdisk').unlink()
    result = run_module(pfsd, lab.args(disk='nosuchdisk'))
    assert result['changed'] is False and 'does not exist' in lab.warnings[-1]
