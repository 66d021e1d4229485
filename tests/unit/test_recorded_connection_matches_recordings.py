"""The recorded-answer fake (fakes/pg_recorded_connection.py) gives exactly what the lab's servers gave.

Each recording in recordings/replication_info holds the query replication_info
sends today (a changed query must be recorded again, with record.py there), and
the fake answers it with the recorded rows or raises the recorded error, of
the same class, SQLSTATE and text.
"""
import json
import pathlib
import sys

import psycopg
import pytest

from ansible_collections.polardb.cluster.plugins.modules.replication_info import STATUS_QUERY

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / 'fakes'))
import pg_recorded_connection  # noqa: E402

NAMES = pg_recorded_connection.recording_names()


def test_the_recorded_situations():
    assert NAMES == ['follower_pb2', 'polardb_primary', 'polardb_replica', 'polardb_standby', 'primary',
                     'primary_monitor_role', 'primary_slot_lost', 'primary_slot_unreserved',
                     'primary_standby_stopped', 'replica_signal', 'standby', 'standby_connect_refused',
                     'standby_primary_stopped']


@pytest.mark.parametrize('name', NAMES)
def test_each_recording_is_of_the_modules_query_on_a_named_lab_host(name):
    recording = pg_recorded_connection.load(name)
    assert recording['query'] == STATUS_QUERY, 'record %s again: the module sends another query' % name
    assert recording['host'] in ('pb1', 'pb2', 'pb3') and recording['engine'] in ('postgresql', 'polardb')
    assert recording['situation'] and recording['recorded']
    outcomes = [key for key in ('rows', 'query_error', 'connect_error') if key in recording]
    assert len(outcomes) == 1, outcomes


@pytest.mark.parametrize('name', NAMES)
def test_the_fake_answers_exactly_what_was_recorded(name):
    recording = pg_recorded_connection.load(name)
    server = pg_recorded_connection.RecordedServer(name)
    if 'connect_error' in recording:
        with pytest.raises(psycopg.Error) as caught:
            server.connect(host='/var/run/postgresql')
        assert type(caught.value).__name__ == recording['connect_error']['class']
        assert str(caught.value) == recording['connect_error']['message']
        return
    with server.connect(host='/var/run/postgresql').cursor() as cursor:
        if 'query_error' in recording:
            with pytest.raises(psycopg.Error) as caught:
                cursor.execute(STATUS_QUERY)
            assert caught.value.sqlstate == recording['query_error']['sqlstate']
            assert str(caught.value) == recording['query_error']['message']
            return
        cursor.execute(STATUS_QUERY)
        rows = cursor.fetchall()
    assert rows == recording['rows'] and len(rows) == 1
    assert json.dumps(rows, sort_keys=True) == json.dumps(recording['rows'], sort_keys=True)
    rows[0]['in_recovery'] = 'changed by a caller'
    with server.connect().cursor() as cursor:
        cursor.execute(STATUS_QUERY)
        assert cursor.fetchall() == recording['rows'], 'a caller changed the recording'


def test_the_fake_refuses_any_other_query():
    server = pg_recorded_connection.RecordedServer('primary')
    with server.connect().cursor() as cursor:
        with pytest.raises(AssertionError, match='record it again'):
            cursor.execute('SELECT 1')
        with pytest.raises(AssertionError, match='no parameters'):
            cursor.execute(STATUS_QUERY, ('x',))
