"""replication_info on answers recorded from the lab (tests/unit/recordings/replication_info)."""
import json
import pathlib
import sys

import pytest

from ansible.module_utils import basic
from ansible_collections.polardb.cluster.plugins.modules import replication_info

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'fakes'))
import pg_recorded_connection  # noqa: E402

SOCKET = '/var/run/postgresql'


@pytest.fixture
def warnings(monkeypatch):
    """What the module passed to module.warn, in order."""
    said = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, warning, **kwargs: said.append(warning))
    return said


@pytest.fixture
def recorded(monkeypatch):
    """Answer the module's connections with one recording."""
    def use(name):
        server = pg_recorded_connection.RecordedServer(name)
        monkeypatch.setattr('ansible_collections.polardb.cluster.plugins.module_utils.postgres.psycopg.connect',
                            server.connect)
        return server
    return use


def run(run_module, check_mode=False, **args):
    return run_module(replication_info, dict(dict(login_unix_socket=SOCKET), **args), check_mode=check_mode)


def by_name(result):
    return dict((follower['name'], follower) for follower in result['followers'])


def test_primary_lists_streaming_followers_an_idle_slot_and_a_walsender_without_slot(
        run_module, recorded, warnings):
    server = recorded('primary')
    result = run(run_module)

    assert result['changed'] is False and not result.get('failed')
    assert (result['role'], result['in_recovery'], result['timeline']) == ('primary', False, 1)
    assert result['system_identifier'] == '7712286192010588419'
    assert result['server_version'].startswith('15.') and result['wal_lsn'] == '0/5079A00'
    assert result['max_slot_wal_keep_size'] == '8GB'
    assert result['receiver'] is None and result['primary_slot_name'] is None
    assert (result['polar_datadir'], result['polar_disk_name']) == (None, None)
    followers = by_name(result)
    assert sorted(followers) == ['idle', 'pb2', 'pb3', 'pg_receivewal']
    pb3 = followers['pb3']
    assert (pb3['state'], pb3['client_addr'], pb3['lag_bytes'], pb3['sync_state']) == \
        ('streaming', '172.18.0.4', 0, 'async')
    assert pb3['slot'] == dict(name='pb3', active=True, restart_lsn='0/5079A00', wal_status='reserved',
                               safe_wal_size=8606213632)
    assert [(followers[name]['ssl'], followers[name]['ssl_version']) for name in ('pb2', 'pb3')] == \
        [(True, 'TLSv1.3')] * 2
    assert followers['idle']['state'] is None and followers['idle']['slot']['active'] is False
    assert (followers['idle']['ssl'], followers['idle']['ssl_version']) == (None, None)
    assert followers['pg_receivewal']['slot'] is None and followers['pg_receivewal']['state'] == 'streaming'
    # over the Unix socket: no TLS, but a walsender to report it
    assert (followers['pg_receivewal']['ssl'], followers['pg_receivewal']['ssl_version']) == (False, None)
    assert isinstance(followers['pg_receivewal']['replay_lag_s'], float)
    assert warnings == ['Slot idle of follower idle is not streaming: no walsender uses the slot (restart_lsn '
                        '0/4000028), so the primary keeps WAL for it until it reconnects. Check that the '
                        'follower runs and reaches the primary.']
    assert 'warnings' not in result
    assert server.connect_kwargs['host'] == SOCKET and server.connect_kwargs['autocommit'] is True
    assert len(server.statements) == 1 and all(conn.closed for conn in server.connections)


def test_check_mode_reads_the_same(run_module, recorded, warnings):
    recorded('primary')
    normal = run(run_module)
    assert run(run_module, check_mode=True) == normal


def test_standby_reports_its_receiver_and_settings(run_module, recorded, warnings):
    recorded('standby')
    result = run(run_module)

    assert (result['role'], result['in_recovery'], result['timeline']) == ('standby', True, 1)
    assert result['followers'] is None and warnings == []
    assert result['receiver']['status'] == 'streaming' and result['receiver']['sender_host'] == 'pb1'
    assert result['receiver']['slot_name'] == 'pb3' and result['receiver']['flushed_lsn'] == '0/5079A00'
    assert isinstance(result['receiver']['replay_delay_s'], float)
    assert (result['primary_slot_name'], result['recovery_min_apply_delay']) == ('pb3', '0')
    assert result['wal_lsn'] == '0/5079A00'


def test_a_follower_with_replica_signal_is_a_replica_the_same_server_without_it_a_standby(
        run_module, recorded, warnings):
    recorded('replica_signal')
    replica = run(run_module)
    recorded('follower_pb2')
    plain = run(run_module)

    assert replica['role'] == 'replica' and replica['in_recovery'] is True
    assert plain['role'] == 'standby'
    assert replica['system_identifier'] == plain['system_identifier']


def test_polardb_primary_replica_on_its_disk_and_standby_on_its_own(run_module, recorded, warnings):
    reports = {}
    for name in ('polardb_primary', 'polardb_replica', 'polardb_standby'):
        recorded(name)
        reports[name.split('_')[1]] = run(run_module)

    assert dict((name, report['role']) for name, report in reports.items()) == \
        {'primary': 'primary', 'replica': 'replica', 'standby': 'standby'}
    assert dict((name, report['polar_disk_name']) for name, report in reports.items()) == \
        {'primary': 'nvme1n1', 'replica': 'nvme1n1', 'standby': 'nvme2n1'}
    assert reports['replica']['polar_datadir'] == '/nvme1n1/shared_data/'
    assert reports['replica']['receiver']['slot_name'] == 'pb2'
    assert sorted(by_name(reports['primary'])) == ['pb2', 'pb3'] and warnings == []
    assert reports['primary']['max_slot_wal_keep_size'] == '8GB'
    assert by_name(reports['primary'])['pb3']['slot']['safe_wal_size'] == 9651901112
    assert [(follower['ssl'], follower['ssl_version']) for follower in reports['primary']['followers']] == \
        [(True, 'TLSv1.3')] * 2
    assert len(set(report['system_identifier'] for report in reports.values())) == 1
    assert reports['primary']['server_version'] == '15.8'


def test_a_standby_whose_primary_is_down_has_no_receiver_and_keeps_its_timeline(run_module, recorded, warnings):
    recorded('standby_primary_stopped')
    result = run(run_module)

    assert result['role'] == 'standby' and result['timeline'] == 1
    receiver = dict(result['receiver'])
    assert isinstance(receiver.pop('replay_delay_s'), float)
    assert set(receiver.values()) == {None}
    assert result['wal_lsn'] == '0/5079A78'


def test_a_stopped_standby_is_named_as_not_streaming(run_module, recorded, warnings):
    recorded('primary_standby_stopped')
    result = run(run_module)

    pb3 = by_name(result)['pb3']
    assert pb3['state'] is None and pb3['lag_bytes'] is None and pb3['slot']['active'] is False
    assert len(warnings) == 1
    assert warnings[0].startswith('Slot pb3 of follower pb3 is not streaming: no walsender uses the slot')
    assert 'pb2' not in warnings[0]


def test_an_unreserved_slot_warns_of_a_rebuild(run_module, recorded, warnings):
    recorded('primary_slot_unreserved')
    result = run(run_module)

    assert by_name(result)['behind']['slot']['wal_status'] == 'unreserved'
    assert result['max_slot_wal_keep_size'] == '32MB'
    assert warnings[0] == ('Slot behind of follower behind is unreserved: it holds more WAL than '
                           'max_slot_wal_keep_size (32MB) allows, and the next checkpoint removes WAL the follower '
                           'still needs. Unless it catches up at once it will need a rebuild with '
                           'playbooks/rebuild.yml.')
    assert warnings[1].startswith('Slot behind of follower behind is not streaming')
    assert len(warnings) == 2


def test_a_lost_slot_says_rebuild_and_nothing_more(run_module, recorded, warnings):
    recorded('primary_slot_lost')
    result = run(run_module)

    assert by_name(result)['behind']['slot']['restart_lsn'] is None
    assert warnings == ['Slot behind of follower behind is lost: the primary has removed WAL the follower still '
                        'needed (max_slot_wal_keep_size 32MB), so it can never catch up. Rebuild it with '
                        'playbooks/rebuild.yml.']


def test_a_follower_whose_walsender_is_not_streaming_is_named(run_module, recorded, warnings):
    server = recorded('primary')
    # edited: pb3's walsender caught in catchup, a state the recording passed through too quickly to hold
    pb3 = [row for row in server.rows[0]['followers'] if row['name'] == 'pb3'][0]
    pb3.update(state='catchup', lag_bytes=16384)
    run(run_module)

    assert 'Slot pb3 of follower pb3 is not streaming: its walsender is in state catchup (replay 16384 bytes ' \
           'behind).' in warnings[1]
    assert len(warnings) == 2 and 'idle' in warnings[0]


def test_connection_failure_names_the_server_and_the_reason(run_module, recorded, warnings):
    recorded('standby_connect_refused')
    result = run(run_module, port=5433)

    assert result['failed'] is True
    assert result['msg'] == ('Could not connect to PostgreSQL as postgres@/var/run/postgresql:5433 (database '
                             'postgres): connection is bad: No such file or directory\n\tIs the server running '
                             'locally and accepting connections on that socket?')


def test_a_role_that_may_not_read_the_data_directory_is_told_what_to_grant(run_module, recorded, warnings):
    server = recorded('primary_monitor_role')
    result = run(run_module, login_user='monitor')

    assert result['failed'] is True
    assert result['msg'] == ('Could not read the replication state of monitor@/var/run/postgresql:5432: permission '
                             'denied for function pg_stat_file. Connect as a superuser, or grant the login role '
                             'pg_monitor and EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean).')
    assert all(conn.closed for conn in server.connections)


def test_host_and_socket_are_exclusive(run_module, recorded, warnings):
    server = recorded('primary')
    result = run(run_module, login_host='pb1')

    assert result['failed'] and 'mutually exclusive' in result['msg']
    assert server.connect_kwargs is None


@pytest.mark.parametrize('name', pg_recorded_connection.recording_names())
def test_every_recorded_answer_gives_a_json_result(run_module, recorded, warnings, name):
    recorded(name)
    result = run(run_module)
    assert json.loads(json.dumps(result)) == result


def test_against_a_real_server(run_module, real_server, warnings):
    conn = dict(login_unix_socket=real_server.socket_dir, port=real_server.port)
    alone = run_module(replication_info, conn)
    assert not alone.get('failed'), alone.get('msg')
    assert (alone['role'], alone['followers'], alone['receiver']) == ('primary', [], None)
    assert alone['system_identifier'].isdigit() and alone['timeline'] >= 1 and warnings == []

    # the server is shared by the module's tests: the slot goes, whatever happens
    with pg_recorded_connection.psycopg.connect(host=real_server.socket_dir, port=real_server.port,
                                                user='postgres', dbname='postgres', autocommit=True) as admin:
        admin.execute("SELECT pg_create_physical_replication_slot('info_unused', true)")
        try:
            with_slot = run_module(replication_info, conn)
        finally:
            admin.execute("SELECT pg_drop_replication_slot('info_unused')")
    unused = by_name(with_slot)['info_unused']
    assert unused['slot']['active'] is False and unused['slot']['wal_status'] == 'reserved'
    assert [w for w in warnings if w.startswith('Slot info_unused of follower info_unused is not streaming')]
