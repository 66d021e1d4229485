"""What the destructive modules refuse: a live server's files, paths a marker only claims,
a second run at once, stopping pfsd under its clients."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from ansible_collections.polardb.cluster.plugins.modules import pfsd, polar_basebackup

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_pfsd import lab as pfsd_lab  # noqa: E402,F401  (the fixture, under another name)
from test_polar_basebackup import args, lab, one_process_per_run, shared_files  # noqa: E402,F401

FAKES = pathlib.Path(__file__).resolve().parents[2] / 'fakes'


@pytest.fixture
def running_server(lab):
    """A process named postgres, recorded in data_dir/postmaster.pid as a server does."""
    server = subprocess.Popen(['bash', '-c', 'exec -a postgres sleep 60'])
    yield server
    server.kill()
    server.wait()


def plant_running_server(lab, server):
    (lab.data_dir / 'postmaster.pid').write_text('%d\n%s\n' % (server.pid, lab.data_dir))


def test_force_never_empties_the_data_dir_of_a_running_server(run_module, lab, running_server):
    lab.data_dir.mkdir()
    (lab.data_dir / 'PG_VERSION').write_text('15\n')
    plant_running_server(lab, running_server)
    result = run_module(polar_basebackup, args(lab, force=True))
    assert result['failed']
    assert 'A server (pid %d, %s/postmaster.pid) runs in data_dir' % (running_server.pid, lab.data_dir) in result['msg']
    assert sorted(os.listdir(lab.data_dir)) == ['PG_VERSION', 'postmaster.pid']


def test_without_force_the_refusal_names_the_data_and_the_server_running_on_it(run_module, lab, running_server):
    lab.data_dir.mkdir()
    (lab.data_dir / 'PG_VERSION').write_text('15\n')
    plant_running_server(lab, running_server)
    result = run_module(polar_basebackup, args(lab))
    assert result['failed']
    assert result['msg'].startswith('Refusing to back up: data_dir %s holds 2 entries' % lab.data_dir), result['msg']
    assert result['msg'].endswith('once the server running there (pid %d) is stopped (pg_ctl stop -D %s).'
                                  % (running_server.pid, lab.data_dir)), result['msg']
    assert sorted(os.listdir(lab.data_dir)) == ['PG_VERSION', 'postmaster.pid']


def test_a_stale_postmaster_pid_does_not_block_a_forced_rebuild(run_module, lab, running_server):
    lab.data_dir.mkdir()
    (lab.data_dir / 'PG_VERSION').write_text('15\n')
    running_server.kill()
    running_server.wait()
    plant_running_server(lab, running_server)   # the pid of a process that is gone
    result = run_module(polar_basebackup, args(lab, force=True))
    assert result.get('failed') is None and result['changed'] and result['mode_used'] == 'staged'


def test_a_marker_naming_other_paths_gets_only_this_runs_paths_cleaned(run_module, lab, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(polar_basebackup.AnsibleModule, 'warn', lambda self, text: warnings.append(text))
    bystander = tmp_path / 'somebody-elses'
    bystander.mkdir()
    (bystander / 'precious.txt').write_text('keep')
    lab.marker.write_text(json.dumps(dict(module='polardb.cluster.polar_basebackup', pid=1, started=0, locations=[
        dict(kind='local', path=str(bystander), created=True),
        dict(kind='local', path=str(lab.data_dir), created=True),
        dict(kind='pfs', path='/nvme2n1/other_data', created=True)])))
    result = run_module(polar_basebackup, args(lab))
    assert result.get('failed') is None and result['changed']
    assert (bystander / 'precious.txt').read_text() == 'keep'
    assert warnings == ["%s lists %s, which is none of this run's data_dir, staging folder or polar_datadir: "
                        "left as it is" % (lab.marker, path) for path in (bystander, '/nvme2n1/other_data')]


def test_a_second_run_at_once_is_refused_and_touches_nothing(run_module, lab):
    lab.data_dir.mkdir()
    holder = os.open(str(lab.home), os.O_RDONLY)
    try:
        import fcntl
        fcntl.flock(holder, fcntl.LOCK_EX)   # what a run in progress holds
        lab.marker.write_text(json.dumps(dict(pid=4242, locations=[dict(kind='local', path=str(lab.data_dir),
                                                                         created=True)])))
        result = run_module(polar_basebackup, args(lab))
    finally:
        os.close(holder)
    assert result['failed'] and 'Another polar_basebackup run (pid 4242) holds the lock on %s' % lab.home \
        in result['msg']
    assert lab.data_dir.is_dir() and lab.marker.exists() and shared_files(lab) == []


def client(pfsd_lab, pid, name='postgres'):
    """A client of the fake pfsd: its PID.pid in the disk's folder, and the process in /proc."""
    import pfs_state
    folder = pfsd_lab.tmp / 'run' / 'nvme2n1'
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ('%d.pid' % pid)).write_text('')
    pfs_state.add_process(pfsd_lab.tmp / 'proc', pid, [name, '-D', '/home/postgres/standby'])


@pytest.mark.parametrize('state', ['stopped', 'restarted'])
def test_pfsd_is_not_stopped_under_a_client_without_force(run_module, pfsd_lab, state):
    pfsd_lab.setup()
    started = run_module(pfsd, pfsd_lab.args())
    client(pfsd_lab, 594)
    refused = run_module(pfsd, pfsd_lab.args(state=state))
    assert refused['failed'] and 'serves 1 client(s) (pid 594: postgres -D /home/postgres/standby)' in refused['msg']
    assert pfsd_lab.calls('stop_pfsd.sh') == []
    forced = run_module(pfsd, pfsd_lab.args(state=state, force=True))
    assert forced.get('failed') is None and forced['changed'] and pfsd_lab.calls('stop_pfsd.sh') == [['nvme2n1']]
    assert started['pid'] is not None
