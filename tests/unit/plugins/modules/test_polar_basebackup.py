import json
import os
import pathlib
import pwd
import subprocess
import sys
import types

import pytest

from ansible_collections.polardb.cluster.plugins.module_utils import backup_marker, basebackup
from ansible_collections.polardb.cluster.plugins.modules import polar_basebackup

FAKES = pathlib.Path(__file__).resolve().parents[2] / 'fakes'
sys.path.insert(0, str(FAKES))
import pfs_state  # noqa: E402

PRIMARY_SYSID = '7449000000000000001'


@pytest.fixture(autouse=True)
def one_process_per_run(monkeypatch):
    """A real run is a process of its own, whose end releases its flock on data_dir's folder.
    Here runs share the test's process: a run's lock is released when the next run starts."""
    held = []
    lock = backup_marker.Marker.lock

    def lock_after_the_last_run_ended(self):
        while held:
            os.close(held.pop())
        lock(self)
        held.append(self.lock_fd)
    monkeypatch.setattr(backup_marker.Marker, 'lock', lock_after_the_last_run_ended)
    yield
    for fd in held:
        os.close(fd)


@pytest.fixture
def lab(fake_bin, tmp_path, monkeypatch):
    for name in ('psql', 'pg_controldata', 'polar_basebackup', 'runuser'):
        os.symlink(FAKES / name, fake_bin / name)
    os.symlink(FAKES / 'polar_basebackup', fake_bin / 'pg_basebackup')
    pfs_state.install(fake_bin, names=('pfs',))
    state = tmp_path / 'pfs.json'
    pfs_state.make_state(state, disks={'nvme2n1': pfs_state.disk(formatted=True)})
    home = tmp_path / 'home'
    home.mkdir()
    for name, value in (('FAKE_PFS_STATE', state), ('FAKE_BASEBACKUP_LOG', tmp_path / 'basebackup.log'),
                        ('FAKE_PSQL_LOG', tmp_path / 'psql.log'), ('FAKE_PG_SYSID', PRIMARY_SYSID)):
        monkeypatch.setenv(name, str(value))
    for name in ('FAKE_BASEBACKUP_FAIL', 'FAKE_BASEBACKUP_DIRECT', 'FAKE_BASEBACKUP_FIRST_DIR',
                 'FAKE_BASEBACKUP_FAIL_DIR', 'FAKE_BASEBACKUP_LAYOUT', 'FAKE_RUNUSER_LOG'):
        monkeypatch.delenv(name, raising=False)
    return types.SimpleNamespace(state=state, home=home, data_dir=home / 'standby', tmp=tmp_path,
                                 marker=home / '.standby.polar_basebackup.json')


def args(lab, **overrides):
    values = dict(login_host='172.17.0.2', login_user='replicator', login_password='s3cret',
                  data_dir=str(lab.data_dir), polar_datadir='/nvme2n1/shared_data/', disk='nvme2n1', host_id=3)
    values.update(overrides)
    return values


def backup_calls(lab):
    path = lab.tmp / 'basebackup.log'
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def local_bytes(path):
    return sum(f.stat().st_size for f in path.rglob('*') if f.is_file())


def pfs_files(lab):
    return pfs_state.read_state(lab.state)['disks']['nvme2n1']['files']


def shared_files(lab):
    return sorted(k for k in pfs_files(lab) if k.startswith('shared_data'))


def test_postgresql_engine_backs_up_once_with_the_password_only_in_the_environment(run_module, lab):
    result = run_module(polar_basebackup, args(lab, engine='postgresql', slot='standby1'))
    assert result['changed'] and result['mode_used'] == 'direct', result
    assert result['system_identifier'] == PRIMARY_SYSID and result['start_lsn'] == '0/485F0700'
    assert result['bytes'] == local_bytes(lab.data_dir) > 0
    [call] = backup_calls(lab)
    assert call['argv'] == ['-h', '172.17.0.2', '-p', '5432', '-U', 'replicator', '-w', '-D', str(lab.data_dir),
                            '-X', 'stream', '--checkpoint=fast', '-v', '-S', 'standby1']
    assert call['pgpassword'] and call['lc_all'] == 'C'
    [psql] = [json.loads(line) for line in (lab.tmp / 'psql.log').read_text().splitlines()]
    assert psql['pgpassword'] and not any('s3cret' in a for a in psql['argv'])
    assert 'replication=true' in psql['argv'][1]
    assert (lab.data_dir / 'standby.signal').exists() and not lab.marker.exists()

    again = run_module(polar_basebackup, args(lab, engine='postgresql', slot='standby1'))
    assert again['changed'] is False and again['mode_used'] == 'none' and len(backup_calls(lab)) == 1

    (lab.data_dir / 'standby.signal').unlink()
    signal_only = run_module(polar_basebackup, args(lab, engine='postgresql'))
    assert signal_only['changed'] and signal_only['mode_used'] == 'none' and len(backup_calls(lab)) == 1
    assert (lab.data_dir / 'standby.signal').exists()


def test_direct_mode_writes_the_shared_data_into_pfs_with_a_tool_that_can(run_module, lab, monkeypatch):
    # not PolarDB 15.8's polar_basebackup (it cannot, as recorded): a build whose extractor writes through PFS
    monkeypatch.setenv('FAKE_BASEBACKUP_DIRECT', 'works')
    result = run_module(polar_basebackup, args(lab, mode='direct'))
    assert result['changed'] and result['mode_used'] == 'direct', result
    [call] = backup_calls(lab)
    assert ['--polardata=/nvme2n1/shared_data/', '--polar_storage_cluster_name=disk',
            '--polar_disk_name=nvme2n1', '--polar_host_id=3'] == call['argv'][9:13]
    assert 'shared_data/base/1/1249' in shared_files(lab)
    shared_bytes = sum(v.get('size', 0) for k, v in pfs_files(lab).items() if k.startswith('shared_data/'))
    assert result['bytes'] == local_bytes(lab.data_dir) + shared_bytes > local_bytes(lab.data_dir)
    assert ['pfs', '-C', 'disk', 'rm', '/nvme2n1/shared_data/standby.signal'] in pfs_state.calls(lab.state)
    assert run_module(polar_basebackup, args(lab, mode='direct'))['changed'] is False


@pytest.mark.parametrize('first_dir', ['global', 'base'])   # recorded with PolarDB 15.8; the seed's run
def test_auto_falls_back_to_staged_when_the_direct_attempt_cannot_create_a_pfs_directory(
        run_module, lab, monkeypatch, first_dir):
    if first_dir != 'global':
        monkeypatch.setenv('FAKE_BASEBACKUP_FIRST_DIR', first_dir)
    result = run_module(polar_basebackup, args(lab))
    assert result['changed'] and result['mode_used'] == 'staged', result
    assert any('could not create directory /nvme2n1/shared_data/%s' % first_dir in action
               for action in result['actions'])
    direct, staged = backup_calls(lab)
    assert '--polar_disk_name=nvme2n1' in direct['argv']
    staging_copy = str(lab.home / 'standby.staging' / 'shared_data')
    assert '--polardata=' + staging_copy in staged['argv'] and '--polar_disk_name=nvme2n1' not in staged['argv']
    assert ['pfs', '-C', 'disk', 'cp', '-r', staging_copy, '/nvme2n1/'] in pfs_state.calls(lab.state)
    assert 'shared_data/base/1/1249' in shared_files(lab)
    assert not (lab.home / 'standby.staging').exists() and not lab.marker.exists()
    assert (lab.data_dir / 'standby.signal').exists()
    assert any('fell back to staged' in action for action in result['actions'])


def test_direct_failure_removes_what_it_created_and_reports_the_tool_error(run_module, lab):
    result = run_module(polar_basebackup, args(lab, mode='direct'))
    assert result['failed'] and 'polar_basebackup failed with rc 1' in result['msg']
    assert 'polar_basebackup: error: could not create directory "/nvme2n1/shared_data/global": ' \
           'No such file or directory' in result['stderr_tail']
    assert 'polar_basebackup: removing data directory "/nvme2n1/shared_data"' in result['stderr_tail']
    assert '--polar_disk_name=nvme2n1' in result['cmd'] and 's3cret' not in result['cmd']
    assert not lab.data_dir.exists() and shared_files(lab) == [] and not lab.marker.exists()


@pytest.mark.parametrize('where', [
    'DATA/pg_tblspc_target/PG_15_202209061',   # a tablespace's folder on the local disk
    '/nvme2n1/shared_data2/global',            # beside polar_datadir, not under it
    '/nvme2n1/global',                         # the disk's root
])
def test_auto_does_not_fall_back_for_a_directory_outside_polar_datadir(run_module, lab, monkeypatch, where):
    monkeypatch.setenv('FAKE_BASEBACKUP_FAIL_DIR', where.replace('DATA', str(lab.home)))
    result = run_module(polar_basebackup, args(lab))
    assert result['failed'] and 'polar_basebackup failed with rc 1' in result['msg']
    assert 'could not create directory "%s"' % where.replace('DATA', str(lab.home)) in result['stderr_tail']
    [direct] = backup_calls(lab)                                # no staged attempt
    assert '--polar_disk_name=nvme2n1' in direct['argv']
    assert not any('fell back' in action for action in result['actions'])
    assert not lab.data_dir.exists() and shared_files(lab) == [] and not lab.marker.exists()


def test_direct_mode_never_falls_back(run_module, lab):
    result = run_module(polar_basebackup, args(lab, mode='direct'))
    assert result['failed'] and len(backup_calls(lab)) == 1


@pytest.fixture
def owner(lab, tmp_path, monkeypatch):
    """The module as root with owner=nobody: the tools run through (a fake) runuser, chown is recorded."""
    try:
        entry = pwd.getpwnam('nobody')
    except KeyError:
        pytest.skip('no user nobody on this host')
    monkeypatch.setenv('FAKE_RUNUSER_LOG', str(tmp_path / 'runuser.log'))
    monkeypatch.setattr(os, 'geteuid', lambda: 0)
    chowned = []
    monkeypatch.setattr(os, 'chown', lambda path, uid, gid: chowned.append((str(path), uid, gid)))

    def runs():
        path = tmp_path / 'runuser.log'
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return types.SimpleNamespace(entry=entry, chowned=chowned, runs=runs)


def test_owner_runs_the_tools_as_that_user_and_gives_it_what_the_module_creates(run_module, lab, owner):
    result = run_module(polar_basebackup, args(lab, owner='nobody'))
    assert result['changed'] and result['mode_used'] == 'staged', result
    runs = owner.runs()
    assert [os.path.basename(run['argv'][0]) for run in runs] == ['psql', 'polar_basebackup', 'polar_basebackup']
    assert {run['user'] for run in runs} == {'nobody'}
    assert '--polar_disk_name=nvme2n1' in runs[1]['argv'] and '--polar_disk_name=nvme2n1' not in runs[2]['argv']
    # pfs writes (cp of the staged copy, rm) ran as root, not through runuser: they need root (recorded)
    assert ['pfs', '-C', 'disk', 'cp', '-r', str(lab.home / 'standby.staging' / 'shared_data'), '/nvme2n1/'] \
        in pfs_state.calls(lab.state)
    ids = (owner.entry.pw_uid, owner.entry.pw_gid)
    assert (str(lab.home / 'standby.staging'), ) + ids in owner.chowned
    assert (str(lab.home / '.standby.polar_basebackup.json.tmp'), ) + ids in owner.chowned
    assert (str(lab.data_dir / 'standby.signal'), ) + ids in owner.chowned


def test_a_pfs_write_run_as_another_user_would_fail_as_recorded(run_module, lab, owner, fake_bin):
    # what owner= avoids: through runuser, the fake pfs behaves as the real one does for a non-root user
    source = lab.tmp / 'sd'
    source.mkdir()
    run = subprocess.run([str(fake_bin / 'runuser'), '-u', 'nobody', '--', str(fake_bin / 'pfs'), '-C', 'disk',
                          'cp', '-r', str(source), '/nvme2n1/'], capture_output=True, text=True)
    assert (run.returncode, run.stdout) == (255, 'cp failed: Input/output error\n')


def test_owner_set_to_the_user_the_module_runs_as_changes_nothing(run_module, lab, owner, monkeypatch):
    monkeypatch.setattr(os, 'geteuid', lambda: owner.entry.pw_uid)
    result = run_module(polar_basebackup, args(lab, owner='nobody'))
    assert result['changed'] and owner.runs() == [] and owner.chowned == []


def test_owner_needs_the_module_to_run_as_root(run_module, lab, owner, monkeypatch):
    monkeypatch.setattr(os, 'geteuid', lambda: 1000 if owner.entry.pw_uid != 1000 else 1001)
    result = run_module(polar_basebackup, args(lab, owner='nobody'))
    assert result['failed'] and result['msg'] == (
        'owner=nobody needs the module to run as root (become: true, no become_user): it runs the PostgreSQL '
        'tools as nobody and PFS writes as root.')
    assert owner.runs() == [] and backup_calls(lab) == [] and not lab.data_dir.exists()


def test_owner_must_be_a_user(run_module, lab, owner):
    result = run_module(polar_basebackup, args(lab, owner='no-such-user-here'))
    assert result['failed'] and result['msg'] == 'owner no-such-user-here is not a user on this host.'


def test_a_second_run_after_a_polardb_backup_with_the_recorded_layout_changes_nothing(run_module, lab, monkeypatch):
    monkeypatch.setenv('FAKE_BASEBACKUP_LAYOUT', 'recorded')
    first = run_module(polar_basebackup, args(lab))
    assert first['changed'] and first['mode_used'] == 'staged'
    assert os.listdir(lab.data_dir / 'global') == [] and 'shared_data/global/pg_control' in shared_files(lab)
    again = run_module(polar_basebackup, args(lab))
    assert again.get('failed') is None and again['changed'] is False, again.get('msg')


def test_staged_mode_keeps_a_staging_dir_it_did_not_create(run_module, lab):
    staging = lab.tmp / 'staging'
    staging.mkdir()
    (staging / 'keep.txt').write_text('mine')
    result = run_module(polar_basebackup, args(lab, mode='staged', staging_dir=str(staging)))
    assert result['mode_used'] == 'staged'
    assert sorted(os.listdir(staging)) == ['keep.txt']


def test_another_cluster_in_data_dir_is_refused_then_replaced_with_force(run_module, lab):
    (lab.data_dir / 'global').mkdir(parents=True)
    (lab.data_dir / 'global' / 'pg_control').write_text('sysid=6000000000000000042\n')
    refused = run_module(polar_basebackup, args(lab, engine='postgresql'))
    assert refused['failed'] and 'system identifier 6000000000000000042' in refused['msg']
    assert PRIMARY_SYSID in refused['msg'] and 'force' in refused['msg'] and backup_calls(lab) == []

    forced = run_module(polar_basebackup, args(lab, engine='postgresql', force=True))
    assert forced['changed'] and 'sysid=%s' % PRIMARY_SYSID in (lab.data_dir / 'global' / 'pg_control').read_text()


def test_a_promoted_copy_of_the_primary_is_never_made_a_standby_again_even_forced(run_module, lab):
    assert run_module(polar_basebackup, args(lab, engine='postgresql'))['changed']
    # What promotion leaves: the server ran as a primary, no standby.signal, no backup label.
    for name in ('standby.signal', 'backup_label'):
        (lab.data_dir / name).unlink(missing_ok=True)
    (lab.data_dir / 'global' / 'pg_control').write_text('sysid=%s state=in_production timeline=2\n' % PRIMARY_SYSID)
    refused = run_module(polar_basebackup, args(lab, engine='postgresql'))
    assert refused['failed'] and 'holds the primary\'s system (identifier %s) but was promoted: it is on timeline 2 ' \
        '(cluster state: in production), the primary on timeline 1' % PRIMARY_SYSID in refused['msg'], refused['msg']
    assert 'rebuild.yml' in refused['msg'] and not (lab.data_dir / 'standby.signal').exists()
    assert run_module(polar_basebackup, args(lab, engine='postgresql'), check_mode=True)['failed']
    assert len(backup_calls(lab)) == 1

    forced = run_module(polar_basebackup, args(lab, engine='postgresql', force=True))
    assert forced['failed'] and 'force does not override this' in forced['msg'], forced
    assert 'Set force=true' not in forced['msg'] and len(backup_calls(lab)) == 1
    assert not (lab.data_dir / 'standby.signal').exists()


@pytest.mark.parametrize('control, signal', [('state=in_archive_recovery timeline=2', True),
                                             ('state=shut_down timeline=1', False)])
def test_a_later_timeline_or_a_primary_state_tells_a_promoted_copy(run_module, lab, control, signal):
    assert run_module(polar_basebackup, args(lab, engine='postgresql'))['changed']
    (lab.data_dir / 'backup_label').unlink(missing_ok=True)
    if not signal:
        (lab.data_dir / 'standby.signal').unlink()
    (lab.data_dir / 'global' / 'pg_control').write_text('sysid=%s %s\n' % (PRIMARY_SYSID, control))
    result = run_module(polar_basebackup, args(lab, engine='postgresql'))
    assert result['failed'] and 'but was promoted' in result['msg'], result


def test_a_standby_that_stopped_in_recovery_is_still_a_copy(run_module, lab):
    assert run_module(polar_basebackup, args(lab, engine='postgresql'))['changed']
    (lab.data_dir / 'backup_label').unlink(missing_ok=True)
    (lab.data_dir / 'global' / 'pg_control').write_text('sysid=%s state=shut_down_in_recovery\n' % PRIMARY_SYSID)
    again = run_module(polar_basebackup, args(lab, engine='postgresql'))
    assert again.get('failed') is None and again['changed'] is False, again.get('msg')


def test_a_non_empty_data_dir_is_refused_in_check_mode_too(run_module, lab):
    lab.data_dir.mkdir()
    (lab.data_dir / 'notes.txt').write_text('x')
    (lab.data_dir / 'old').mkdir()
    result = run_module(polar_basebackup, args(lab), check_mode=True)
    assert result['failed'] and 'is not empty (2 entries: notes.txt, old)' in result['msg']


def test_shared_data_on_pfs_is_refused_unless_force_which_keeps_the_directory(run_module, lab):
    state = pfs_state.read_state(lab.state)
    state['disks']['nvme2n1']['files'].update({'shared_data': {'kind': 'Dir', 'mtime': pfs_state.now()},
                                               'shared_data/old': {'kind': 'File', 'size': 5,
                                                                   'mtime': pfs_state.now()}})
    pfs_state.write_state(lab.state, state)
    refused = run_module(polar_basebackup, args(lab))
    assert refused['failed'] and 'polar_datadir /nvme2n1/shared_data on PFS is not empty (1 entries: old)' \
        in refused['msg']
    forced = run_module(polar_basebackup, args(lab, force=True))
    assert forced['changed'] and forced['mode_used'] == 'staged' and 'shared_data/old' not in shared_files(lab)
    assert 'shared_data/base/1/1249' in shared_files(lab)
    assert ['pfs', '-C', 'disk', 'rm', '-r', '/nvme2n1/shared_data/old'] in pfs_state.calls(lab.state)
    assert ['pfs', '-C', 'disk', 'rm', '-r', '/nvme2n1/shared_data'] not in pfs_state.calls(lab.state)


def test_a_copy_of_the_primary_without_its_shared_data_is_refused(run_module, lab):
    assert run_module(polar_basebackup, args(lab))['mode_used'] == 'staged'
    state = pfs_state.read_state(lab.state)
    state['disks']['nvme2n1']['files'] = pfs_state.formatted_files()
    pfs_state.write_state(lab.state, state)
    result = run_module(polar_basebackup, args(lab))
    assert result['failed'] and 'no pg_control' in result['msg'] and 'missing or empty' in result['msg']


def test_check_mode_writes_nothing(run_module, lab):
    result = run_module(polar_basebackup, args(lab), check_mode=True)
    assert result['changed'] and result['mode_used'] == 'none' and result['system_identifier'] == PRIMARY_SYSID
    assert backup_calls(lab) == [] and not lab.data_dir.exists() and not lab.marker.exists()
    writes = [c for c in pfs_state.calls(lab.state) if c[3] not in ('ls', 'stat')]
    assert writes == []


def test_leftovers_of_a_run_that_died_are_cleaned_without_force(run_module, lab, monkeypatch):
    monkeypatch.setenv('FAKE_BASEBACKUP_FAIL', 'crash')
    # the module dies with the tool: nothing undoes the partial backup
    undo = basebackup.BaseBackup.undo
    monkeypatch.setattr(basebackup.BaseBackup, 'undo', lambda self, record: None)
    died = run_module(polar_basebackup, args(lab, mode='direct'))
    assert died['failed'] and died['rc'] == 137
    marker = json.loads(lab.marker.read_text())
    assert {(e['kind'], e['path'], e['created']) for e in marker['locations']} == {
        ('local', str(lab.data_dir), True), ('pfs', '/nvme2n1/shared_data', True)}
    assert lab.data_dir.exists() and shared_files(lab)
    monkeypatch.setattr(basebackup.BaseBackup, 'undo', undo)
    monkeypatch.delenv('FAKE_BASEBACKUP_FAIL')

    checked = run_module(polar_basebackup, args(lab, mode='direct'), check_mode=True)
    assert checked['changed'] and 'interrupted run' in checked['actions'][0] and lab.marker.exists()

    resumed = run_module(polar_basebackup, args(lab))
    assert resumed['changed'] and resumed['mode_used'] == 'staged' and not lab.marker.exists()
    assert 'shared_data/base/1/1249' in shared_files(lab)


def test_a_failed_run_keeps_a_data_dir_that_existed_before(run_module, lab, monkeypatch):
    lab.data_dir.mkdir()
    monkeypatch.setenv('FAKE_BASEBACKUP_FAIL', 'slot')
    result = run_module(polar_basebackup, args(lab, engine='postgresql', slot='standby1'))
    assert result['failed'] and 'replication slot "standby1" does not exist' in result['stderr_tail']
    assert lab.data_dir.is_dir() and os.listdir(lab.data_dir) == [] and not lab.marker.exists()


def test_timeout_stops_the_backup(run_module, lab, monkeypatch):
    monkeypatch.setenv('FAKE_BASEBACKUP_FAIL', 'hang')
    result = run_module(polar_basebackup, args(lab, engine='postgresql', timeout=1))
    assert result['failed'] and 'did not finish within timeout=1s' in result['msg']
    assert result['cmd'].split()[0].endswith('timeout')


def test_an_unreachable_primary_is_reported_with_the_client_error(run_module, lab, monkeypatch):
    monkeypatch.setenv('FAKE_PSQL_FAIL', 'auth')
    result = run_module(polar_basebackup, args(lab))
    assert result['failed'] and 'replicator@172.17.0.2:5432' in result['msg']
    assert 'password authentication failed for user "replicator"' in result['msg']
    assert 'password authentication failed' in result['stderr_tail'] and 's3cret' not in result['cmd']
    assert not lab.data_dir.exists()


def test_max_rate_throttles_the_data_transfer(run_module, lab):
    result = run_module(polar_basebackup, args(lab, engine='postgresql', max_rate='2M'))
    assert result['changed'], result
    [call] = backup_calls(lab)
    assert call['argv'][-1] == '--max-rate=2M'
    unlimited = run_module(polar_basebackup, args(lab, engine='postgresql', data_dir=str(lab.home / 'other')))
    assert unlimited['changed'] and not any(a.startswith('--max-rate') for a in backup_calls(lab)[1]['argv'])


def test_the_copy_connects_over_tls_under_the_name_given_and_estimates_its_size(run_module, lab):
    tls = dict(ssl_mode='verify-full', ca_cert='/tls/root.crt', ssl_cert='/tls/node.crt', ssl_key='/tls/node.key')
    result = run_module(polar_basebackup, args(lab, engine='postgresql', application_name='pb3 base backup',
                                               progress=True, **tls))
    assert result['changed'], result
    [call] = backup_calls(lab)
    assert call['argv'][-1] == '--progress'
    assert call['libpq'] == dict(PGAPPNAME='pb3 base backup', PGSSLMODE='verify-full', PGSSLROOTCERT='/tls/root.crt',
                                 PGSSLCERT='/tls/node.crt', PGSSLKEY='/tls/node.key')
    assert not any('tls' in arg for arg in call['argv'])


@pytest.mark.parametrize('overrides, message', [
    (dict(polar_datadir='/other/shared_data'), 'must be a directory on the PFS disk nvme2n1'),
    (dict(max_rate='2 MB/s'), 'max_rate=2 MB/s is not a rate'),
    (dict(max_rate='fast'), 'max_rate=fast is not a rate'),
    (dict(polar_datadir='/nvme2n1/'), 'must be a directory on the PFS disk nvme2n1'),
    (dict(slot='standby1', wal_method='fetch'), 'slot needs wal_method=stream'),
    (dict(host_id=None), 'engine is polardb but the following are missing: host_id'),
    (dict(data_dir='/nonexistent/standby'), 'parent directory of data_dir /nonexistent/standby does not exist'),
])
def test_invalid_arguments(run_module, lab, overrides, message):
    result = run_module(polar_basebackup, args(lab, **overrides))
    assert result['failed'] and message in result['msg']


def test_staging_dir_and_data_dir_must_not_contain_each_other(run_module, lab):
    result = run_module(polar_basebackup, args(lab, staging_dir=str(lab.data_dir.parent)))
    assert result['failed'] and 'must not contain each other' in result['msg']


@pytest.mark.parametrize('overrides, message', [
    (dict(data_dir=''), 'data_dir is empty: it must be an absolute path'),
    (dict(data_dir='standby'), 'data_dir standby is a relative path: it must be absolute'),
    (dict(data_dir='/var/lib/../../etc'), 'data_dir /var/lib/../../etc is not a normalised path'),
    (dict(data_dir='/var/lib/postgresql/standby/'), 'is not a normalised path'),
    (dict(data_dir='/'), 'data_dir is /, the root folder'),
    (dict(data_dir='/etc'), 'data_dir /etc is in /etc, which belongs to the operating system'),
    (dict(data_dir='/var/lib'), 'data_dir /var/lib is a folder shared with other software'),
    (dict(staging_dir='/usr/local/staging'), 'staging_dir /usr/local/staging is in /usr'),
])
def test_a_path_that_is_not_ours_is_refused_before_anything_is_looked_at(run_module, lab, overrides, message):
    result = run_module(polar_basebackup, args(lab, **overrides))
    assert result['failed'] and message in result['msg'], result['msg']
    assert 'force' not in result['msg'] and 'actions' not in result
    assert backup_calls(lab) == []


def test_bin_dir_is_searched_alone(run_module, lab):
    result = run_module(polar_basebackup, args(lab, bin_dir=str(lab.tmp)))
    assert result['failed'] and 'psql not found in bin_dir %s' % lab.tmp in result['msg']


def test_an_unformatted_disk_is_reported(run_module, lab):
    pfs_state.make_state(lab.state, disks={'nvme2n1': pfs_state.disk(formatted=False)})
    result = run_module(polar_basebackup, args(lab))
    assert result['failed'] and 'does not hold PFS' in result['msg']


def test_postgresql_engine_against_a_real_server(run_module, real_server, tmp_path):
    options = dict(engine='postgresql', login_unix_socket=real_server.socket_dir, port=real_server.port,
                   data_dir=str(tmp_path / 'standby'), bin_dir=real_server.bin_dir)
    result = run_module(polar_basebackup, options)
    assert result['changed'] and result['start_lsn'] and result['bytes'] > 1000000, result
    assert (tmp_path / 'standby' / 'standby.signal').exists()
    again = run_module(polar_basebackup, options)
    assert again['changed'] is False and again['system_identifier'] == result['system_identifier']


def test_when_undo_fails_the_marker_stays_for_the_next_run(run_module, lab, monkeypatch):
    monkeypatch.setenv('FAKE_BASEBACKUP_FAIL', 'crash')

    def refuse(path):
        raise OSError(13, 'Permission denied', path)
    monkeypatch.setattr(backup_marker.shutil, 'rmtree', refuse)
    result = run_module(polar_basebackup, args(lab, mode='direct'))
    assert result['failed'] and 'could not remove what this run had created' in result['actions'][-1]
    assert lab.marker.exists() and lab.data_dir.exists()


def test_diff_shows_what_the_backup_replaces(run_module, lab):
    lab.data_dir.mkdir()
    first = run_module(polar_basebackup, args(lab), check_mode=True, diff=True)
    assert first['changed'] and first['diff']['before'] == dict(
        data_dir='empty', polar_datadir='absent', standby_signal=False)
    copy = 'copy of the primary (system identifier %s)' % PRIMARY_SYSID
    assert first['diff']['after'] == dict(data_dir=copy, polar_datadir=copy, standby_signal=True)

    run_module(polar_basebackup, args(lab))
    again = run_module(polar_basebackup, args(lab), diff=True)
    assert again['changed'] is False
    assert again['diff']['before'] == again['diff']['after']
    assert again['diff']['before']['data_dir'] == 'cluster with system identifier %s' % PRIMARY_SYSID


def test_no_diff_without_diff_mode(run_module, lab):
    assert 'diff' not in run_module(polar_basebackup, args(lab, engine='postgresql'))
