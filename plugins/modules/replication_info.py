#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: replication_info
short_description: Replication state of a PostgreSQL / PolarDB server, and its followers'
version_added: 0.2.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Reads, in one query, what the server this module connects to knows about
    replication, whether it is a primary, a PolarDB read-only replica or a
    standby.
  - On a primary it lists every follower, one entry per physical replication
    slot and per walsender (a slot nobody streams from and a walsender without
    a slot both appear), and warns about a slot whose WAL is no longer kept
    (C(wal_status) C(unreserved) or C(lost)) and about a follower's slot that
    is not streaming.
  - On a follower it reports its WAL receiver, its replay position and delay,
    and the settings that tie it to the primary.
  - Changes nothing.
extends_documentation_fragment:
  - polardb.cluster.postgres
attributes:
  action_group:
    support: full
    membership: [polardb.cluster.postgres]
    description: Takes its connection options from C(module_defaults) of C(group/polardb.cluster.postgres).
  check_mode:
    support: full
    description: Reads only, so check mode runs it the same way.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
notes:
  - The login role needs superuser, or C(pg_monitor) plus EXECUTE on
    C(pg_catalog.pg_stat_file(text, boolean)) (to look for C(replica.signal)).
  - Works on PostgreSQL 15 and on PolarDB for PostgreSQL 15 (the same
    catalog); the C(polar_*) settings are null on PostgreSQL.
requirements:
  - psycopg >= 3.1 (Debian package C(python3-psycopg))
'''

EXAMPLES = r'''
- name: Read the replication state of each host
  polardb.cluster.replication_info:
    login_unix_socket: /var/run/postgresql
  become: true
  become_user: postgres
  register: replication

- name: Stop when the standby's slot on the primary is lost
  ansible.builtin.assert:
    that: >-
      replication.followers | selectattr('slot') | map(attribute='slot.wal_status')
      | select('equalto', 'lost') | list | length == 0
    fail_msg: A follower's slot is lost; rebuild it with playbooks/rebuild.yml
  when: replication.role == 'primary'
'''

RETURN = r'''
role:
  description:
    - C(primary) when the server is not in recovery; C(replica) when it is in
      recovery and its data directory holds C(replica.signal) (a PolarDB
      read-only replica on the primary's shared disk); C(standby) otherwise.
  returned: always
  type: str
  choices: [primary, replica, standby]
  sample: standby
in_recovery:
  description: What C(pg_is_in_recovery()) says.
  returned: always
  type: bool
  sample: true
timeline:
  description:
    - The timeline the server is on. A primary's comes from the name of its
      current WAL file; a follower's is the one its WAL receiver receives on,
      or, with no receiver running, the one of its last checkpoint.
  returned: always
  type: int
  sample: 1
system_identifier:
  description:
    - The cluster's system identifier, as text (it does not fit a JSON
      number); every member of one cluster has the same.
  returned: always
  type: str
  sample: "7712151330952253525"
server_version:
  description: The server's C(server_version) setting.
  returned: always
  type: str
  sample: 15.18 (Debian 15.18-0+deb12u1)
wal_lsn:
  description:
    - On a primary, its current WAL write position; on a follower, the last
      position it replayed (null before it replayed anything).
  returned: always
  type: str
  sample: 0/5079A70
receiver:
  description:
    - On a follower, its WAL receiver as C(pg_stat_wal_receiver) shows it;
      every field but C(replay_delay_s) is null when no receiver runs (the
      primary is down or unreachable). Null on a primary.
    - C(replay_delay_s) is the age in seconds of the last transaction replayed
      (from C(pg_last_xact_replay_timestamp())), null before the first one. It
      also grows while the primary writes nothing.
  returned: always
  type: dict
  sample:
    status: streaming
    sender_host: pb1
    sender_port: 5432
    slot_name: pb3
    received_tli: 1
    flushed_lsn: 0/5079A70
    latest_end_lsn: 0/5079A70
    replay_delay_s: 2.51
primary_slot_name:
  description: On a follower, its C(primary_slot_name) setting (empty when it uses no slot); null on a primary.
  returned: always
  type: str
  sample: pb3
recovery_min_apply_delay:
  description: On a follower, its C(recovery_min_apply_delay) setting as shown (C(0), C(5min)); null on a primary.
  returned: always
  type: str
  sample: "0"
max_slot_wal_keep_size:
  description:
    - The C(max_slot_wal_keep_size) setting as shown, C(-1) for no limit. Past
      it a slot's WAL is no longer kept (C(wal_status) C(unreserved), then C(lost)).
  returned: always
  type: str
  sample: "-1"
polar_datadir:
  description: PolarDB's C(polar_datadir) setting; null on PostgreSQL.
  returned: always
  type: str
  sample: /nvme2n1/shared_data/
polar_disk_name:
  description: PolarDB's C(polar_disk_name) setting; null on PostgreSQL.
  returned: always
  type: str
  sample: nvme2n1
followers:
  description:
    - On a primary, one entry per physical replication slot and per walsender
      (C(pg_stat_replication), logical ones aside), joined where the slot's
      C(active_pid) is the walsender's; sorted by name. Null on a follower.
    - C(name) is the walsender's C(application_name), or the slot's name when
      nobody streams from it. The walsender's fields are null when nobody
      streams; C(slot) is null for a walsender that uses no slot.
    - C(ssl) says whether the follower's connection uses TLS (C(pg_stat_ssl)),
      C(ssl_version) with which protocol; both null when nobody streams.
    - C(lag_bytes) is how far the follower's replay is behind the primary's
      current WAL position; C(replay_lag_s) is C(replay_lag) in seconds (null
      when unknown, as it is while the primary is idle).
  returned: always
  type: list
  elements: dict
  sample:
    - name: pb3
      client_addr: 172.28.0.4
      state: streaming
      sent_lsn: 0/5079A70
      write_lsn: 0/5079A70
      flush_lsn: 0/5079A70
      replay_lsn: 0/5079A70
      lag_bytes: 0
      replay_lag_s: null
      sync_state: async
      ssl: true
      ssl_version: TLSv1.3
      slot:
        name: pb3
        active: true
        restart_lsn: 0/5079A70
        wal_status: reserved
        safe_wal_size: null
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.polardb.cluster.plugins.module_utils.postgres import (
    POSTGRES_MUTUALLY_EXCLUSIVE, DatabaseError, connect, describe_target, postgres_common_argument_spec)

INSUFFICIENT_PRIVILEGE = '42501'
REBUILD_PLAYBOOK = 'playbooks/rebuild.yml'

# One statement, so a host costs one round trip. Every column is text, a
# number, a boolean or json, so what psycopg returns is already JSON. Functions
# a server in recovery refuses (pg_current_wal_lsn) sit behind CASE branches
# that only a primary takes. replica.signal is looked for through one field of
# pg_stat_file's record: the record has a null field (creation) on Linux, and a
# record with a null field is never IS NOT NULL.
STATUS_QUERY = """\
SELECT
    node.in_recovery,
    (pg_catalog.pg_stat_file('replica.signal', true)).size IS NOT NULL AS has_replica_signal,
    (pg_catalog.pg_control_system()).system_identifier::text AS system_identifier,
    pg_catalog.current_setting('server_version') AS server_version,
    CASE WHEN node.in_recovery THEN pg_catalog.pg_last_wal_replay_lsn()
         ELSE pg_catalog.pg_current_wal_lsn() END::text AS wal_lsn,
    CASE WHEN node.in_recovery
         THEN COALESCE(receiver.received_tli, (pg_catalog.pg_control_checkpoint()).timeline_id)
         ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))
              ::bit(32)::int
    END AS timeline,
    CASE WHEN node.in_recovery THEN pg_catalog.json_build_object(
        'status', receiver.status,
        'sender_host', receiver.sender_host,
        'sender_port', receiver.sender_port,
        'slot_name', receiver.slot_name,
        'received_tli', receiver.received_tli,
        'flushed_lsn', receiver.flushed_lsn::text,
        'latest_end_lsn', receiver.latest_end_lsn::text,
        'replay_delay_s',
        EXTRACT(EPOCH FROM pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp())::float8)
    END AS receiver,
    CASE WHEN node.in_recovery THEN pg_catalog.current_setting('primary_slot_name') END AS primary_slot_name,
    CASE WHEN node.in_recovery THEN pg_catalog.current_setting('recovery_min_apply_delay') END
        AS recovery_min_apply_delay,
    pg_catalog.current_setting('max_slot_wal_keep_size') AS max_slot_wal_keep_size,
    pg_catalog.current_setting('polar_datadir', true) AS polar_datadir,
    pg_catalog.current_setting('polar_disk_name', true) AS polar_disk_name,
    CASE WHEN NOT node.in_recovery THEN (
        SELECT COALESCE(pg_catalog.json_agg(follower ORDER BY follower.name, follower.client_addr), '[]')
        FROM (
            SELECT COALESCE(NULLIF(sender.application_name, ''), slot.slot_name) AS name,
                   pg_catalog.host(sender.client_addr) AS client_addr,
                   sender.state,
                   sender.sent_lsn::text AS sent_lsn,
                   sender.write_lsn::text AS write_lsn,
                   sender.flush_lsn::text AS flush_lsn,
                   sender.replay_lsn::text AS replay_lsn,
                   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), sender.replay_lsn)::bigint
                       AS lag_bytes,
                   EXTRACT(EPOCH FROM sender.replay_lag)::float8 AS replay_lag_s,
                   sender.sync_state,
                   sender.ssl,
                   sender.ssl_version,
                   CASE WHEN slot.slot_name IS NOT NULL THEN pg_catalog.json_build_object(
                       'name', slot.slot_name,
                       'active', slot.active,
                       'restart_lsn', slot.restart_lsn::text,
                       'wal_status', slot.wal_status,
                       'safe_wal_size', slot.safe_wal_size)
                   END AS slot
            FROM (SELECT * FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical') AS slot
            FULL JOIN (SELECT walsender.*, tls.ssl, tls.version AS ssl_version
                       FROM pg_catalog.pg_stat_replication AS walsender
                       LEFT JOIN pg_catalog.pg_stat_ssl AS tls ON tls.pid = walsender.pid
                       WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots AS logical
                                         WHERE logical.slot_type = 'logical'
                                           AND logical.active_pid = walsender.pid)) AS sender
              ON sender.pid = slot.active_pid
        ) AS follower)
    END AS followers
FROM (SELECT pg_catalog.pg_is_in_recovery() AS in_recovery) AS node
LEFT JOIN pg_catalog.pg_stat_wal_receiver AS receiver ON true
"""

RETURNED_AS_READ = ('in_recovery', 'timeline', 'system_identifier', 'server_version', 'wal_lsn', 'receiver',
                    'primary_slot_name', 'recovery_min_apply_delay', 'max_slot_wal_keep_size',
                    'polar_datadir', 'polar_disk_name', 'followers')


def server_role(row):
    if not row['in_recovery']:
        return 'primary'
    return 'replica' if row['has_replica_signal'] else 'standby'


def describe(row):
    """The module's result from the status query's row."""
    result = dict((key, row[key]) for key in RETURNED_AS_READ)
    result['role'] = server_role(row)
    return result


def follower_warnings(followers, max_slot_wal_keep_size):
    """What an operator must hear about the followers' slots on a primary."""
    messages = []
    for follower in followers or []:
        slot = follower['slot']
        if slot is None:
            continue
        whose = 'Slot %s of follower %s' % (slot['name'], follower['name'])
        if slot['wal_status'] == 'lost':
            messages.append(
                '%s is lost: the primary has removed WAL the follower still needed '
                '(max_slot_wal_keep_size %s), so it can never catch up. Rebuild it with %s.'
                % (whose, max_slot_wal_keep_size, REBUILD_PLAYBOOK))
            continue
        if slot['wal_status'] == 'unreserved':
            messages.append(
                '%s is unreserved: it holds more WAL than max_slot_wal_keep_size (%s) allows, and the next '
                'checkpoint removes WAL the follower still needs. Unless it catches up at once it will need a '
                'rebuild with %s.' % (whose, max_slot_wal_keep_size, REBUILD_PLAYBOOK))
        if not slot['active']:
            messages.append(
                '%s is not streaming: no walsender uses the slot (restart_lsn %s), so the primary keeps WAL for '
                'it until it reconnects. Check that the follower runs and reaches the primary.'
                % (whose, slot['restart_lsn']))
        elif follower['state'] != 'streaming':
            messages.append(
                '%s is not streaming: its walsender is in state %s (replay %s bytes behind). Look again in a '
                'while; if it stays so, read the follower\'s log.'
                % (whose, follower['state'], follower['lag_bytes']))
    return messages


def main():
    module = AnsibleModule(argument_spec=postgres_common_argument_spec(), supports_check_mode=True,
                           mutually_exclusive=POSTGRES_MUTUALLY_EXCLUSIVE)
    conn = connect(module)
    try:
        with conn.cursor() as cursor:
            cursor.execute(STATUS_QUERY)
            row = cursor.fetchall()[0]
    except DatabaseError as e:
        hint = ''
        if getattr(e, 'sqlstate', None) == INSUFFICIENT_PRIVILEGE:
            hint = (' Connect as a superuser, or grant the login role pg_monitor and EXECUTE ON FUNCTION '
                    'pg_catalog.pg_stat_file(text, boolean).')
        module.fail_json(msg='Could not read the replication state of %s: %s.%s'
                         % (describe_target(module.params), to_native(e).strip().rstrip('.'), hint))
    finally:
        conn.close()

    result = describe(row)
    for message in follower_warnings(result['followers'], result['max_slot_wal_keep_size']):
        module.warn(message)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
