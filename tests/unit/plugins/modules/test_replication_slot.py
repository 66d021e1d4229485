import os
import pathlib
import subprocess
import sys
import time

import pytest

from ansible_collections.polardb.cluster.plugins.modules import replication_slot

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'fakes'))
import pg_fake_connection  # noqa: E402


@pytest.fixture
def server(monkeypatch):
    fake = pg_fake_connection.FakeServer()
    monkeypatch.setattr('ansible_collections.polardb.cluster.plugins.module_utils.postgres.psycopg.connect',
                        fake.connect)
    monkeypatch.setattr(replication_slot, 'RELEASE_WAIT_S', 0.3)
    monkeypatch.setattr(replication_slot, 'POLL_INTERVAL_S', 0.01)
    return fake


def args(**overrides):
    values = dict(name='standby1', login_unix_socket='/var/run/postgresql')
    values.update(overrides)
    return values


def test_creates_a_missing_physical_slot_then_reports_no_change(run_module, server):
    result = run_module(replication_slot, args(immediately_reserve=True), diff=True)
    assert result['changed'] is True
    assert result['slot']['slot_type'] == 'physical' and result['slot']['restart_lsn'] == '0/3000148'
    assert result['diff'] == {'before': {'name': 'standby1', 'state': 'absent'},
                              'after': {'name': 'standby1', 'state': 'present',
                                        'slot_type': 'physical', 'plugin': None}}
    assert ('SELECT pg_catalog.pg_create_physical_replication_slot(%s, %s)', ('standby1', True)) \
        in server.statements
    assert server.connect_kwargs['host'] == '/var/run/postgresql'

    again = run_module(replication_slot, args(immediately_reserve=True))
    assert again['changed'] is False and again['slot']['name'] == 'standby1'


def test_a_slot_another_run_creates_meanwhile_is_found_not_an_error(run_module, server):
    server.races['standby1'] = dict(slot_type='physical')
    result = run_module(replication_slot, args(immediately_reserve=True))
    assert result.get('failed') is None, result.get('msg')
    assert result['changed'] is False and result['slot']['slot_type'] == 'physical'


def test_a_slot_of_another_type_created_meanwhile_is_a_conflict(run_module, server):
    server.races['standby1'] = dict(slot_type='logical', plugin='pgoutput')
    result = run_module(replication_slot, args())
    assert result['failed'] and 'standby1 exists as a logical slot, not physical' in result['msg']


def test_logical_slot_gets_test_decoding_unless_a_plugin_is_given(run_module, server):
    result = run_module(replication_slot, args(slot_type='logical'))
    assert result['slot']['plugin'] == 'test_decoding'
    failed = run_module(replication_slot, args(slot_type='logical', plugin='pgoutput'))
    assert failed['failed'] and 'exists with plugin test_decoding, not pgoutput' in failed['msg']


def test_a_slot_of_the_other_type_is_named_in_the_failure(run_module, server):
    server.add_slot('standby1', slot_type='logical', plugin='pgoutput')
    result = run_module(replication_slot, args())
    assert result['failed']
    assert 'standby1 exists as a logical slot, not physical' in result['msg']
    assert server.writes() == []


@pytest.mark.parametrize('name', ['Standby1', 'standby-1', 'standby1\n', 'a' * 64, '', "x'; DROP TABLE t; --"])
def test_invalid_names_are_refused_before_connecting(run_module, server, name):
    result = run_module(replication_slot, args(name=name))
    assert result['failed'] and 'lower-case letter' in result['msg'] and '1 to 63' in result['msg']
    assert server.connect_kwargs is None


def test_plugin_is_refused_for_a_physical_slot(run_module, server):
    result = run_module(replication_slot, args(plugin='pgoutput'))
    assert result['failed'] and 'only to logical slots' in result['msg']


def test_check_mode_queries_but_never_writes(run_module, server):
    created = run_module(replication_slot, args(), check_mode=True)
    server.add_slot('gone', active=True)
    dropped = run_module(replication_slot, args(name='gone', state='absent', terminate_active=True),
                         check_mode=True)
    assert created['changed'] and created['slot'] is None
    assert dropped['changed'] and dropped['slot']['active'] is True
    assert server.writes() == []


def test_absent_drops_an_inactive_slot_and_is_idempotent(run_module, server):
    server.add_slot('standby1')
    result = run_module(replication_slot, args(state='absent'), diff=True)
    assert result['changed'] and result['slot'] is None and 'standby1' not in server.slots
    assert result['diff']['after'] == {'name': 'standby1', 'state': 'absent'}
    assert run_module(replication_slot, args(state='absent'))['changed'] is False


def test_an_active_slot_is_kept_without_terminate_active(run_module, server):
    server.add_slot('standby1', active=True)
    pid = server.slots['standby1']['active_pid']
    result = run_module(replication_slot, args(state='absent'))
    assert result['failed'] and 'walsender pid %d' % pid in result['msg'] and 'terminate_active' in result['msg']
    assert 'standby1' in server.slots and server.writes() == []


def test_terminate_active_retries_when_the_client_takes_the_slot_again(run_module, server):
    server.add_slot('standby1', active=True)
    first_pid = server.slots['standby1']['active_pid']
    server.reconnects = 1
    result = run_module(replication_slot, args(state='absent', terminate_active=True))
    assert result['changed'] and 'standby1' not in server.slots
    assert result['terminated_pid'] == [first_pid, first_pid + 1]


def test_terminate_active_gives_up_when_the_walsender_does_not_exit(run_module, server):
    server.add_slot('standby1', active=True)
    pid = server.slots['standby1']['active_pid']
    server.stuck_pids.add(pid)
    result = run_module(replication_slot, args(state='absent', terminate_active=True))
    assert result['failed'] and 'still active' in result['msg'] and result['terminated_pid'] == [pid]
    assert 'standby1' in server.slots


def test_against_a_real_server(run_module, real_server):
    conn = dict(login_unix_socket=real_server.socket_dir, port=real_server.port)
    created = run_module(replication_slot, dict(conn, name='real_slot', immediately_reserve=True))
    assert created['changed'] and created['slot']['restart_lsn'] and created['slot']['wal_status'] == 'reserved'
    assert run_module(replication_slot, dict(conn, name='real_slot'))['changed'] is False
    other = run_module(replication_slot, dict(conn, name='real_slot', slot_type='logical'))
    assert other['failed'] and 'exists as a physical slot' in other['msg']
    dropped = run_module(replication_slot, dict(conn, name='real_slot', state='absent'))
    assert dropped['changed'] and dropped['slot'] is None


def test_terminate_active_against_a_real_walsender(run_module, real_server, tmp_path):
    conn = dict(login_unix_socket=real_server.socket_dir, port=real_server.port)
    run_module(replication_slot, dict(conn, name='streamed', immediately_reserve=True))
    receiver = subprocess.Popen([os.path.join(real_server.bin_dir, 'pg_receivewal'), '-h', real_server.socket_dir,
                                 '-p', str(real_server.port), '-U', 'postgres', '-S', 'streamed', '-n',
                                 '-D', str(tmp_path)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            slot = run_module(replication_slot, dict(conn, name='streamed'))['slot']
            if slot['active']:
                break
            time.sleep(0.1)
        assert slot['active'], 'pg_receivewal never took the slot'
        kept = run_module(replication_slot, dict(conn, name='streamed', state='absent'))
        assert kept['failed'] and 'walsender pid %d' % slot['active_pid'] in kept['msg']
        dropped = run_module(replication_slot, dict(conn, name='streamed', state='absent', terminate_active=True))
        assert dropped['changed'] and dropped['slot'] is None and dropped['terminated_pid'] == [slot['active_pid']]
    finally:
        receiver.kill()
        receiver.wait()
