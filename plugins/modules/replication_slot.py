#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: replication_slot
short_description: Create or drop a PostgreSQL / PolarDB replication slot
version_added: 0.1.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Ensures a physical or logical replication slot exists on, or is absent from,
    the server this module connects to (normally the primary).
  - An active slot (one a walsender is streaming from) is only dropped when
    I(terminate_active=true).
extends_documentation_fragment:
  - polardb.cluster.postgres
options:
  name:
    description:
      - Name of the slot. 1 to 63 characters, each a lower-case letter, a digit
        or an underscore (the rule PostgreSQL enforces).
    type: str
    required: true
    aliases: [slot_name]
  state:
    description:
      - C(present) creates the slot when it is missing, C(absent) drops it.
    type: str
    choices: [present, absent]
    default: present
  slot_type:
    description:
      - Kind of slot. A slot of the other kind with the same name is an error.
    type: str
    choices: [physical, logical]
    default: physical
  plugin:
    description:
      - Output plugin of a logical slot. Only valid with I(slot_type=logical).
      - When creating a logical slot without it, C(test_decoding) is used.
        When given, an existing logical slot with another plugin is an error.
    type: str
  immediately_reserve:
    description:
      - Reserve WAL for a new physical slot at once instead of on the first
        connection of a client. Logical slots always reserve it.
    type: bool
    default: false
  terminate_active:
    description:
      - With I(state=absent), terminate the walsender using an active slot,
        wait until the slot is released, then drop it.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Queries the slot and reports what would change; writes nothing.
  diff_mode:
    support: full
    description: Shows the slot's state, type and plugin before and after.
notes:
  - A logical slot belongs to the database it is created in (I(login_db)).
  - The login role needs the REPLICATION attribute or superuser.
requirements:
  - psycopg >= 3.1 (Debian package C(python3-psycopg))
'''

EXAMPLES = r'''
- name: Slot for the standby on pb3, with WAL kept from now on
  polardb.cluster.replication_slot:
    name: standby1
    immediately_reserve: true
    login_unix_socket: /var/run/postgresql
  become: true
  become_user: postgres

- name: Drop the standby's slot even while it streams
  polardb.cluster.replication_slot:
    name: standby1
    state: absent
    terminate_active: true
    login_host: 172.17.0.2
    login_password: "{{ vault_postgres_password }}"
'''

RETURN = r'''
slot:
  description:
    - The slot after the run, as C(pg_replication_slots) shows it; null when absent.
    - In check mode, the slot as it is now (nothing was changed).
  returned: always
  type: dict
  sample:
    name: standby1
    slot_type: physical
    plugin: null
    active: false
    active_pid: null
    restart_lsn: 0/3000148
    wal_status: reserved
terminated_pid:
  description: Walsender process ids terminated to release the slot.
  returned: always
  type: list
  elements: int
  sample: [4242]
'''

import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.polardb.cluster.plugins.module_utils.postgres import (
    POSTGRES_MUTUALLY_EXCLUSIVE, DatabaseError, connect, postgres_common_argument_spec)

SLOT_NAME_RE = re.compile(r'[a-z0-9_]{1,63}')
DEFAULT_LOGICAL_PLUGIN = 'test_decoding'
RELEASE_WAIT_S = 10.0
POLL_INTERVAL_S = 0.2
DROP_ATTEMPTS = 3
OBJECT_IN_USE = '55006'
DUPLICATE_OBJECT = '42710'

SLOT_QUERY = ("SELECT slot_name AS name, slot_type, plugin, active, active_pid, "
              "restart_lsn::text AS restart_lsn, wal_status "
              "FROM pg_catalog.pg_replication_slots WHERE slot_name = %s")


class SlotManager(object):
    def __init__(self, module, conn):
        self.module = module
        self.conn = conn
        self.name = module.params['name']
        self.terminated = []

    def query(self, sql, args):
        with self.conn.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall() if cursor.description else []

    def fetch(self):
        rows = self.query(SLOT_QUERY, (self.name,))
        return dict(rows[0]) if rows else None

    def create(self):
        params = self.module.params
        if params['slot_type'] == 'physical':
            self.query('SELECT pg_catalog.pg_create_physical_replication_slot(%s, %s)',
                       (self.name, params['immediately_reserve']))
        else:
            self.query('SELECT pg_catalog.pg_create_logical_replication_slot(%s, %s)',
                       (self.name, params['plugin'] or DEFAULT_LOGICAL_PLUGIN))

    def drop(self, slot):
        # A client (a standby retrying every few seconds) may take the slot
        # again between our terminate and our drop: terminate and retry.
        for attempt in range(DROP_ATTEMPTS):
            if slot and slot['active']:
                slot = self.release(slot)
            try:
                self.query('SELECT pg_catalog.pg_drop_replication_slot(%s)', (self.name,))
                return
            except DatabaseError as e:
                if getattr(e, 'sqlstate', None) != OBJECT_IN_USE or attempt == DROP_ATTEMPTS - 1:
                    raise
                slot = self.fetch()

    def release(self, slot):
        self.query('SELECT pg_catalog.pg_terminate_backend(%s)', (slot['active_pid'],))
        self.terminated.append(slot['active_pid'])
        deadline = time.monotonic() + RELEASE_WAIT_S
        while slot and slot['active'] and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL_S)
            slot = self.fetch()
        if slot and slot['active']:
            self.module.fail_json(
                msg='Slot %s is still active (walsender pid %s) %.0fs after terminating pid %s; '
                    'stop its client (e.g. the standby) and retry.'
                    % (self.name, slot['active_pid'], RELEASE_WAIT_S, self.terminated[-1]),
                terminated_pid=self.terminated)
        return slot


def check_arguments(module):
    params = module.params
    if not SLOT_NAME_RE.fullmatch(params['name']):
        module.fail_json(msg='Invalid slot name %r: a replication slot name is 1 to 63 characters, '
                             'each a lower-case letter (a-z), a digit or an underscore.'
                         % params['name'])
    if params['plugin'] and params['slot_type'] != 'logical':
        module.fail_json(msg='plugin=%s applies only to logical slots; set slot_type=logical '
                             'or remove plugin.' % params['plugin'])


def conflict(params, slot):
    """Why an existing slot cannot be the one asked for, or None."""
    if slot['slot_type'] != params['slot_type']:
        return ('Slot %s exists as a %s slot, not %s; drop it first (state=absent) '
                'or choose another name.' % (slot['name'], slot['slot_type'], params['slot_type']))
    if params['plugin'] and slot['plugin'] and slot['plugin'] != params['plugin']:
        return ('Logical slot %s exists with plugin %s, not %s; drop it first or choose another name.'
                % (slot['name'], slot['plugin'], params['plugin']))
    return None


def summary(name, slot):
    if slot is None:
        return {'name': name, 'state': 'absent'}
    return {'name': name, 'state': 'present', 'slot_type': slot['slot_type'], 'plugin': slot['plugin']}


def planned_slot(params):
    plugin = None
    if params['slot_type'] == 'logical':
        plugin = params['plugin'] or DEFAULT_LOGICAL_PLUGIN
    return {'name': params['name'], 'state': 'present', 'slot_type': params['slot_type'], 'plugin': plugin}


def ensure(module, manager, before):
    """Apply the requested state; return whether something changed (or would)."""
    params = module.params
    if params['state'] == 'present':
        if before is not None:
            problem = conflict(params, before)
            if problem:
                module.fail_json(msg=problem, slot=before)
            return False
        if not module.check_mode:
            try:
                manager.create()
            except DatabaseError as e:
                # another run created it between our look and our create: find it, as a look would have
                raced = manager.fetch() if getattr(e, 'sqlstate', None) == DUPLICATE_OBJECT else None
                if raced is None:
                    raise
                problem = conflict(params, raced)
                if problem:
                    module.fail_json(msg=problem, slot=raced)
                return False
        return True
    if before is None:
        return False
    if before['active'] and not params['terminate_active']:
        module.fail_json(msg='Slot %s is active (walsender pid %s is streaming from it); stop its '
                             'client or set terminate_active=true to terminate the walsender and '
                             'drop the slot.' % (before['name'], before['active_pid']), slot=before)
    if not module.check_mode:
        manager.drop(before)
    return True


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(
        name=dict(type='str', required=True, aliases=['slot_name']),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        slot_type=dict(type='str', default='physical', choices=['physical', 'logical']),
        plugin=dict(type='str'),
        immediately_reserve=dict(type='bool', default=False),
        terminate_active=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=POSTGRES_MUTUALLY_EXCLUSIVE)
    check_arguments(module)
    name = module.params['name']

    conn = connect(module)
    manager = SlotManager(module, conn)
    try:
        before = manager.fetch()
        changed = ensure(module, manager, before)
        after = before if module.check_mode else manager.fetch()
    except DatabaseError as e:
        module.fail_json(msg='Replication slot %s: %s' % (name, to_native(e).strip()),
                         terminated_pid=manager.terminated)
    finally:
        conn.close()

    if module.params['state'] == 'absent':
        predicted = summary(name, None)
    elif before is None:
        predicted = planned_slot(module.params)
    else:
        predicted = summary(name, before)
    module.exit_json(changed=changed, slot=after, terminated_pid=manager.terminated,
                     diff=dict(before=summary(name, before), after=predicted))


if __name__ == '__main__':
    main()
