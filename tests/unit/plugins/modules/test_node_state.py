"""node_state against psql answers recorded on a real lab (tests/unit/recordings/node_state),
with the server's files moved under tmp_path."""
import json
import os
import pathlib
import pwd
import socket

import pytest

from ansible_collections.polardb.cluster.plugins.modules import node_state

RECORDINGS = pathlib.Path(__file__).resolve().parents[2] / 'recordings' / 'node_state'
FAKES = pathlib.Path(__file__).resolve().parents[2] / 'fakes'
FAKE_PSQL = str(FAKES / 'psql_node_state')


def recorded_answer(name):
    return json.loads(json.loads((RECORDINGS / (name + '.json')).read_text())['stdout'])


@pytest.fixture
def upstream():
    """The primary a follower streams from, as far as a TCP connection can tell: a listening socket."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(8)
    yield listener
    listener.close()


@pytest.fixture
def node(tmp_path, monkeypatch, upstream):
    """A host whose server answers as recorded in a situation; its files exist under tmp_path/root,
    and the sender its WAL receiver names is the upstream socket."""
    root = tmp_path / 'root'

    class Node(object):
        record = tmp_path / 'state.json'

        def serve(self, name, **changes):
            recording = json.loads((RECORDINGS / (name + '.json')).read_text())
            receiver = json.loads(recording['stdout'])['receiver'] if recording['exit'] == 0 else None
            if receiver and 'receiver' not in changes:
                changes['receiver'] = receiver[:2] + list(upstream.getsockname())
            monkeypatch.setenv('FAKE_NODE_STATE', str(RECORDINGS / (name + '.json')))
            monkeypatch.setenv('FAKE_NODE_STATE_ROOT', str(root))
            monkeypatch.setenv('FAKE_NODE_STATE_SET', json.dumps(changes))

        def make_files(self, name):
            answer = recorded_answer(name)
            paths = list(answer['files']) + [answer['data_directory'] + '/standby.signal']
            passfile = node_state.passfile_of(answer['primary_conninfo'])
            for path in paths + ([passfile] if passfile else []):
                target = pathlib.Path(str(root) + path)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text('# %s\n' % path)
            return answer

        def file(self, path):
            return pathlib.Path(str(root) + path)

        def args(self, **extra):
            args = dict(path=str(self.record), fingerprint='asked-1', psql=FAKE_PSQL,
                        socket_dir='/var/run/postgresql', port=5432, db='postgres')
            args.update(extra)
            return args

    return Node()


def test_a_recorded_standby_compares_as_converged_with_its_summary(run_module, node):
    answer = node.make_files('standby')
    node.serve('standby')
    recorded = run_module(node_state, node.args(state='recorded'))
    assert recorded['changed'] is False and recorded['converged'] is True and node.record.exists()
    assert oct(os.stat(str(node.record)).st_mode & 0o777) == '0o600'

    compared = run_module(node_state, node.args())
    assert compared['converged'] is True and compared['differences'] == []
    assert compared['summary'] == 'in recovery, streaming from 127.0.0.1 through slot pb3'
    assert compared['msg'].startswith('as the full run of %s left it' % recorded['recorded_at'])
    # Every file the server uses is followed, the password file included; the conninfo only as a digest.
    snapshot = json.loads(node.record.read_text())['snapshot']
    passfile = str(node.file(node_state.passfile_of(answer['primary_conninfo'])))
    assert passfile in snapshot['files'] and 'missing' not in snapshot['files'][passfile]
    assert all(node.file(path).as_posix() in snapshot['files'] for path in answer['files'])
    assert 'primary_conninfo' not in snapshot['server'] and 'sslmode' not in json.dumps(snapshot)


def test_a_follower_whose_upstream_no_longer_answers_is_not_converged(run_module, node, upstream):
    node.make_files('standby')
    node.serve('standby')
    run_module(node_state, node.args(state='recorded'))
    assert json.loads(node.record.read_text())['snapshot']['upstream']['reachable'] is True
    # The link is cut: the server still says streaming, the network does not.
    upstream.close()
    compared = run_module(node_state, node.args())
    assert compared['converged'] is False
    assert compared['differences'][0] == 'upstream error: was null, now "ConnectionRefusedError"'
    assert 'upstream reachable: was true, now false' in compared['differences']


def test_a_changed_settings_file_is_named_and_the_record_forgotten(run_module, node):
    answer = node.make_files('standby')
    node.serve('standby')
    run_module(node_state, node.args(state='recorded'))
    settings = node.file(answer['data_directory'] + '/polardb_standby.conf')
    settings.write_text('recovery_min_apply_delay = 1h\n')

    checked = run_module(node_state, node.args(), check_mode=True)
    assert checked['converged'] is False and node.record.exists()
    assert [d for d in checked['differences'] if str(settings) in d and 'sha256' in d]
    assert checked['msg'].startswith('a full run follows: ')

    compared = run_module(node_state, node.args())
    assert compared['converged'] is False and compared['changed'] is False
    assert not node.record.exists()
    again = run_module(node_state, node.args())
    assert again['differences'] == ['no record of a full run at %s' % node.record]


def test_a_stopped_server_is_not_converged(run_module, node):
    node.make_files('standby')
    node.serve('standby')
    run_module(node_state, node.args(state='recorded'))
    node.serve('standby_stopped')
    compared = run_module(node_state, node.args(forget=False))
    assert compared['converged'] is False
    assert compared['differences'][0] == 'server answers: was true, now false'
    assert compared['summary'].startswith('the server does not answer: ')
    assert 'Is the server running locally' in compared['summary']


def test_a_primary_whose_slot_went_idle_or_was_dropped_is_not_converged(run_module, node):
    answer = node.make_files('primary')
    node.serve('primary')
    run_module(node_state, node.args(state='recorded'))
    assert run_module(node_state, node.args())['summary'] == 'accepts writes; replication slots: pb2, pb3'

    node.serve('primary', slots=[answer['slots'][0], ['pb3', 'physical', False]])
    idle = run_module(node_state, node.args(forget=False))
    assert idle['converged'] is False and idle['summary'] == 'accepts writes; replication slots: pb2, pb3 (idle)'
    node.serve('primary', slots=answer['slots'][:1])
    dropped = run_module(node_state, node.args(forget=False))
    assert dropped['converged'] is False and dropped['differences'][0].startswith('server slots: ')


def test_a_server_that_hangs_is_not_converged_after_the_timeout(run_module, node, monkeypatch):
    node.make_files('standby')
    node.serve('standby')
    run_module(node_state, node.args(state='recorded'))
    monkeypatch.setenv('FAKE_NODE_STATE_HANG', '30')
    compared = run_module(node_state, node.args(timeout=1, forget=False))
    assert compared['converged'] is False and compared['differences'][0] == 'server answers: was true, now false'
    assert compared['summary'] == 'the server does not answer: no answer within 1 s'


class Daemon(object):
    def __init__(self, pids):
        self.pids, self.argv, self.running = pids, ['pfsdaemon', '-p', 'nvme2n1'] if pids else None, bool(pids)


def test_a_dead_pfsd_is_seen_without_asking_the_server_that_would_hang(run_module, node, monkeypatch):
    node.make_files('polardb_standby')
    node.serve('polardb_standby')
    monkeypatch.setattr(node_state, 'find_pfsdaemon', lambda disk: Daemon([116]))
    asked = dict(socket_dir='/tmp', pfs_disk='nvme2n1')
    run_module(node_state, node.args(state='recorded', **asked))
    monkeypatch.setattr(node_state, 'find_pfsdaemon', lambda disk: Daemon([]))
    monkeypatch.setenv('FAKE_NODE_STATE_HANG', '30')
    compared = run_module(node_state, node.args(forget=False, **asked))
    assert compared['differences'][0] == 'server answers: was true, now false'
    assert 'server error: was null, now ["not asked: no pfsdaemon serves nvme2n1"]' in compared['differences']
    assert [d for d in compared['differences'] if d.startswith('pfsd pids: was [116], now []')]


def test_as_root_psql_runs_as_the_database_user_and_the_record_is_roots(run_module, node, fake_bin, tmp_path,
                                                                         monkeypatch):
    if os.geteuid() != 0:
        pytest.skip('runuser is what a module run as root uses')
    (fake_bin / 'runuser').symlink_to(FAKES / 'runuser')
    monkeypatch.setenv('FAKE_RUNUSER_LOG', str(tmp_path / 'runuser.log'))
    node.make_files('primary')
    node.serve('primary')
    record = tmp_path / 'polardb-cluster' / 'node-state.json'
    recorded = run_module(node_state, node.args(state='recorded', os_user='nobody', path=str(record)))
    assert recorded['server']['in_recovery'] is False and recorded['server']['timeline'] == 1
    call = json.loads((tmp_path / 'runuser.log').read_text().splitlines()[0])
    assert call['user'] == 'nobody' and call['argv'][4] == FAKE_PSQL
    assert [os.path.basename(call['argv'][0])] + call['argv'][1:4] == ['timeout', '-k', '2', '10']
    assert (os.stat(str(record)).st_uid, oct(os.stat(str(record.parent)).st_mode & 0o777)) == (0, '0o700')
    compared = run_module(node_state, node.args(os_user='nobody', path=str(record)))
    assert compared['converged'] and compared['server'] == dict(
        answers=True, in_recovery=False, system_identifier=recorded_answer('primary')['system_identifier'], timeline=1,
        data_directory=str(node.file(recorded_answer('primary')['data_directory'])))
    assert len((tmp_path / 'runuser.log').read_text().splitlines()) == 2


def test_another_fingerprint_or_another_way_of_asking_means_a_full_run(run_module, node):
    node.make_files('replica')
    node.serve('replica')
    run_module(node_state, node.args(state='recorded'))
    compared = run_module(node_state, node.args(fingerprint='asked-2', forget=False))
    assert compared['converged'] is False and 'asks for something else' in compared['differences'][0]
    # what the server said is returned all the same, for the play to decide from
    assert compared['server']['in_recovery'] is True and compared['server']['answers'] is True
    elsewhere = run_module(node_state, node.args(port=5433, forget=False))
    assert elsewhere['differences'] == ['the node is asked another way than when it was recorded: {"db": "postgres", '
                                        '"devices": [], "login_user": "postgres", "os_user": null, "pfs_disk": "", '
                                        '"port": 5432, "psql": "%s", "socket_dir": "/var/run/postgresql"}' % FAKE_PSQL]


def test_a_replica_signal_file_that_appears_is_seen(run_module, node):
    answer = node.make_files('replica')
    node.serve('replica')
    run_module(node_state, node.args(state='recorded'))
    node.file(answer['data_directory'] + '/replica.signal').write_text('')
    compared = run_module(node_state, node.args())
    assert [d for d in compared['differences'] if d.startswith('files %s' % node.file(answer['data_directory']
                                                                                       + '/replica.signal'))]


def test_a_disk_alias_is_followed_to_its_device(run_module, node, tmp_path):
    node.make_files('standby')
    node.serve('standby')
    device = tmp_path / 'loop9'
    device.write_text('')
    alias = tmp_path / 'nvme2n1'
    alias.symlink_to(device)
    run_module(node_state, node.args(state='recorded', devices=[str(alias)]))
    assert json.loads(node.record.read_text())['snapshot']['devices'][str(alias)]['device'] == str(device)

    alias.unlink()
    compared = run_module(node_state, node.args(devices=[str(alias)]))
    assert compared['converged'] is False
    assert compared['differences'][0].startswith('devices %s ' % alias)


def test_no_record_is_written_for_a_server_that_does_not_answer_or_in_check_mode(run_module, node):
    node.serve('standby_stopped')
    warned = run_module(node_state, node.args(state='recorded'))
    assert 'failed' not in warned and warned['converged'] is False and not node.record.exists()
    assert warned['msg'].startswith('Nothing recorded: the server on /var/run/postgresql:5432 does not answer')
    assert 'No such file' in warned['msg'] and warned['msg'].endswith('the next run goes through every role.')

    node.make_files('standby')
    node.serve('standby')
    checked = run_module(node_state, node.args(state='recorded'), check_mode=True)
    assert checked['converged'] is True and not node.record.exists()


def test_a_record_that_cannot_be_written_is_a_warning(run_module, node, tmp_path):
    node.make_files('standby')
    node.serve('standby')
    (tmp_path / 'a-file').write_text('')
    warned = run_module(node_state, node.args(state='recorded', path=str(tmp_path / 'a-file' / 'state.json')))
    assert 'failed' not in warned and warned['converged'] is False
    assert warned['msg'].startswith('Nothing recorded: %s cannot be written' % (tmp_path / 'a-file' / 'state.json'))


@pytest.mark.parametrize('path, message', [
    ('', 'path is empty'),
    ('node-state.json', 'path node-state.json is a relative path'),
    ('/var/lib/../../etc/shadow', 'path /var/lib/../../etc/shadow is not a normalised path'),
    ('/etc/shadow', 'path /etc/shadow is in /etc'),
])
@pytest.mark.parametrize('state', ['compared', 'recorded', 'absent'])
def test_a_record_path_that_is_not_ours_is_refused(run_module, node, path, message, state):
    node.serve('standby')
    result = run_module(node_state, node.args(path=path, state=state))
    assert result['failed'] and message in result['msg'], result['msg']


def test_absent_forgets_a_record_but_not_in_check_mode(run_module, node):
    node.make_files('replica')
    node.serve('replica')
    run_module(node_state, node.args(state='recorded'))
    assert run_module(node_state, node.args(state='absent'), check_mode=True)['changed'] is False
    assert node.record.exists()
    assert run_module(node_state, node.args(state='absent'))['changed'] is False and not node.record.exists()
    assert run_module(node_state, node.args(state='absent'))['converged'] is False


def test_the_data_directory_and_the_mount_point_are_followed_too(run_module, node, tmp_path):
    answer = node.make_files('standby')
    node.serve('standby')
    run_module(node_state, node.args(state='recorded'))
    data_dir = node.file(answer['data_directory'])
    data_dir.chmod(0o700 if data_dir.stat().st_mode & 0o077 else 0o755)
    compared = run_module(node_state, node.args())
    assert compared['differences'] and compared['differences'][0].startswith('folders %s mode: ' % data_dir)


def test_an_unreadable_record_means_a_full_run(run_module, node):
    node.record.write_text('{not json')
    compared = run_module(node_state, node.args(forget=False))
    assert compared['converged'] is False and 'not one this collection wrote' in compared['differences'][0]


@pytest.mark.parametrize('conninfo, passfile', [
    ('host=pb1 passfile=/var/lib/postgresql/.pgpass.pb3 user=r', '/var/lib/postgresql/.pgpass.pb3'),
    ("host=pb1 passfile='/a b/it\\'s' user=r", "/a b/it's"),
    ('host=pb1 user=r', None),
    ('', None),
])
def test_the_password_file_is_read_from_primary_conninfo(conninfo, passfile):
    assert node_state.passfile_of(conninfo) == passfile
