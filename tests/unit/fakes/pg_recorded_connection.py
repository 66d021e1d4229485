"""A psycopg 3 connection that answers with what a real server answered.

The recordings in tests/unit/recordings/replication_info/NAME.json hold the
query as it ran on a lab host and what psycopg returned: the rows (dict rows,
already JSON), the error of the query, or the error of the connection. The
fake answers that one query only, with exactly that: a module whose query
changed fails here until it is recorded again (record.py beside the
recordings).
"""
import copy
import json
import pathlib

import psycopg
import psycopg.errors

RECORDINGS = pathlib.Path(__file__).resolve().parents[1] / 'recordings' / 'replication_info'


def recording_names():
    return sorted(path.stem for path in RECORDINGS.glob('*.json'))


def load(name):
    return json.loads((RECORDINGS / (name + '.json')).read_text())


class RecordedServer:
    """One recording, answered to every connection; ``rows`` may be edited by a test that says so."""

    def __init__(self, name):
        self.recording = load(name)
        self.rows = copy.deepcopy(self.recording.get('rows'))
        self.connect_kwargs = None
        self.statements = []
        self.connections = []

    def connect(self, **kwargs):
        self.connect_kwargs = kwargs
        error = self.recording.get('connect_error')
        if error:
            raise getattr(psycopg, error['class'])(error['message'])
        connection = RecordedConnection(self)
        self.connections.append(connection)
        return connection

    def execute(self, sql):
        self.statements.append(sql)
        if sql != self.recording['query']:
            raise AssertionError('the recording %s holds another query: record it again with %s'
                                 % (self.recording['situation'], RECORDINGS / 'record.py'))
        error = self.recording.get('query_error')
        if error:
            raise psycopg.errors.lookup(error['sqlstate'])(error['message'])
        return copy.deepcopy(self.rows)


class RecordedConnection:
    def __init__(self, server):
        self.server = server
        self.closed = False

    def cursor(self):
        return RecordedCursor(self.server)

    def close(self):
        self.closed = True


class RecordedCursor:
    def __init__(self, server):
        self.server = server
        self.rows = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        if args:
            raise AssertionError('the recorded query takes no parameters: %r' % (args,))
        self.rows = self.server.execute(sql)

    def fetchall(self):
        return self.rows
