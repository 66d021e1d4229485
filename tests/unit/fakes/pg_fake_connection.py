"""An in-memory stand-in for a psycopg 3 connection to a server's slot catalog.

Understands only the statements replication_slot sends; anything else is an
error, so a test notices a new query. Errors are real psycopg error classes
with the server's SQLSTATE.
"""
import re

import psycopg.errors


class FakeServer:
    def __init__(self):
        self.slots = {}
        self.statements = []       # (sql, args) of every execute
        self.connect_kwargs = None
        self.reconnects = 0        # times a client re-takes a slot just before a drop
        self.stuck_pids = set()    # walsenders that ignore pg_terminate_backend
        self.next_pid = 5000
        self.races = {}            # name: add_slot() keywords of a slot another client creates first

    def add_slot(self, name, slot_type='physical', plugin=None, active=False, restart_lsn='0/3000148'):
        pid = self._pid() if active else None
        self.slots[name] = dict(name=name, slot_type=slot_type, plugin=plugin, active=active,
                                active_pid=pid, restart_lsn=restart_lsn,
                                wal_status='reserved' if restart_lsn else None)

    def connect(self, **kwargs):
        self.connect_kwargs = kwargs
        return FakeConnection(self)

    def writes(self):
        return [sql for sql, args in self.statements if not sql.startswith('SELECT slot_name')]

    def _pid(self):
        self.next_pid += 1
        return self.next_pid

    def execute(self, sql, args):
        self.statements.append((sql, args))
        call = re.search(r'pg_catalog\.(\w+)\(', sql)
        if sql.startswith('SELECT slot_name'):
            slot = self.slots.get(args[0])
            return [dict(slot)] if slot else []
        handler = getattr(self, '_' + call.group(1)) if call else None
        if handler is None:
            raise AssertionError('fake server does not know: %s' % sql)
        return handler(*args)

    def _pg_create_physical_replication_slot(self, name, reserve):
        self._check_new(name)
        self.add_slot(name, restart_lsn='0/3000148' if reserve else None)
        return [dict(pg_create_physical_replication_slot='(%s,)' % name)]

    def _pg_create_logical_replication_slot(self, name, plugin):
        self._check_new(name)
        self.add_slot(name, slot_type='logical', plugin=plugin)
        return [dict(pg_create_logical_replication_slot='(%s,0/3000148)' % name)]

    def _pg_drop_replication_slot(self, name):
        slot = self.slots.get(name)
        if slot is None:
            raise psycopg.errors.UndefinedObject('replication slot "%s" does not exist' % name)
        if self.reconnects and not slot['active']:
            self.reconnects -= 1
            slot['active'], slot['active_pid'] = True, self._pid()
        if slot['active']:
            raise psycopg.errors.ObjectInUse('replication slot "%s" is active for PID %s'
                                             % (name, slot['active_pid']))
        del self.slots[name]
        return [dict(pg_drop_replication_slot='')]

    def _pg_terminate_backend(self, pid):
        for slot in self.slots.values():
            if slot['active_pid'] == pid:
                if pid not in self.stuck_pids:
                    slot['active'], slot['active_pid'] = False, None
                return [dict(pg_terminate_backend=True)]
        return [dict(pg_terminate_backend=False)]

    def _check_new(self, name):
        if name in self.races:   # another client's create lands between our look and ours
            self.add_slot(name, **self.races.pop(name))
        if name in self.slots:
            raise psycopg.errors.DuplicateObject('replication slot "%s" already exists' % name)


class FakeConnection:
    def __init__(self, server):
        self.server = server
        self.closed = False

    def cursor(self):
        return FakeCursor(self.server)

    def close(self):
        self.closed = True


class FakeCursor:
    def __init__(self, server):
        self.server = server
        self.rows = []
        self.description = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        self.rows = self.server.execute(sql, tuple(args or ()))
        self.description = [('column',)]

    def fetchall(self):
        return self.rows
