#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: node_state
short_description: Tell in one call whether a node is as the last full run of the site left it
version_added: 0.2.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - With I(state=recorded), at the end of a full run that succeeded, keeps in I(path) what the
    node is then (a snapshot) and the I(fingerprint) of what the run was asked to build.
  - With I(state=compared), takes the same snapshot again, asking the same way (the same
    I(psql), I(socket_dir), I(port), I(db), I(os_user), I(devices) and I(pfs_disk)), and compares. The node is
    C(converged) when the fingerprint is the same and nothing in the snapshot moved; the
    playbook then has nothing to do on it and skips its roles.
  - "The snapshot is what the server says about itself and what it stands on: its start time,
    whether it is in recovery, its system identifier and data directory; every settings file,
    pg_hba.conf, pg_ident.conf, TLS file and replication password file it uses (content, mode,
    owner) and its C(standby.signal) or C(replica.signal); its pending restarts; its
    replication slots and whether each is in use; the replication roles and a digest of their
    passwords; its WAL receiver (status, slot, sender) and whether a TCP connection to that
    sender opens now (a cut link leaves both ends saying streaming until their timeouts); each
    disk alias in I(devices) (the device behind it, the loop device's backing file and direct
    I/O, where it is mounted); and the pfsdaemon serving I(pfs_disk)."
  - Any difference, a server that does not answer, or a record that is missing or unreadable
    means not converged. Anything the snapshot does not cover is seen by a full run only.
options:
  path:
    description:
      - The record, a file only root reads (its folder is made 0700 when missing).
      - An absolute, normalised path outside the system folders (C(/etc), C(/usr), C(/run), ...),
        not a shared folder itself (C(/var/lib), C(/tmp), ...).
    type: path
    required: true
  state:
    description:
      - C(compared) compares the node with its record; C(recorded) writes the record; C(absent)
        removes it (a run that goes through the roles forgets every host's record first).
    type: str
    choices: [compared, recorded, absent]
    default: compared
  fingerprint:
    description: What the run is asked to build, as a digest (the P(polardb.cluster.run_fingerprint#filter) filter).
    type: str
    required: true
  forget:
    description:
      - With I(state=compared), remove a record that no longer matches, so that a run that then
        fails half-way leaves no record claiming the node converged. Not in check mode.
    type: bool
    default: true
  psql:
    description: The C(psql) to ask the server with.
    type: path
    default: psql
  socket_dir:
    description: The server's Unix socket folder.
    type: path
    default: /var/run/postgresql
  port:
    description: The server's port.
    type: int
    default: 5432
  login_user:
    description: The database role to log in as (a superuser reads every setting's file and the roles).
    type: str
    default: postgres
  db:
    description: The database to connect to.
    type: str
    default: postgres
  os_user:
    description:
      - The operating system user C(psql) runs as, through C(runuser) when the module runs as root.
        Unset, C(psql) runs as the module does.
    type: str
  devices:
    description: Disk aliases (such as C(/dev/nvme2n1)) to follow; an alias that does not exist is recorded as missing.
    type: list
    elements: path
    default: []
  pfs_disk:
    description: The PFS disk whose pfsdaemon is part of the node; empty for none.
    type: str
    default: ''
  timeout:
    description:
      - Seconds the server has to answer (and a follower's upstream to accept a connection, at most 3).
        A server that does not answer in time is not converged.
    type: int
    default: 10
notes:
  - Run it as the database user (C(become_user)); it connects through the Unix socket.
  - The record is the collection's bookkeeping, not the node's state, so writing or removing it
    is never reported as a change.
attributes:
  check_mode:
    support: full
    description: Compares as usual; records and forgets nothing.
  diff_mode:
    support: none
    description: Nothing of the node changes; what differs is in RV(differences).
'''

EXAMPLES = r'''
- name: Compare this node with what the last full run left
  polardb.cluster.node_state:
    path: /var/lib/polardb-cluster/node-state.json
    fingerprint: "{{ hostvars | polardb.cluster.run_fingerprint(groups['polardb']) }}"
    psql: /usr/lib/postgresql/15/bin/psql
    os_user: postgres
    devices: [/dev/nvme2n1]
  become: true
  register: node

# A PolarDB primary: its socket in /tmp, its shared PFS disk and that disk's pfsd.
- name: Remember what this node is after a full run
  polardb.cluster.node_state:
    state: recorded
    path: /var/lib/polardb-cluster/node-state.json
    fingerprint: "{{ hostvars | polardb.cluster.run_fingerprint(groups['polardb']) }}"
    psql: /home/postgres/tmp_polardb_pg_15_base/bin/psql
    socket_dir: /tmp
    os_user: postgres
    devices: [/dev/nvme1n1]
    pfs_disk: nvme1n1
  become: true
'''

RETURN = r'''
converged:
  description: Whether the node is as recorded, for the same fingerprint.
  returned: always
  type: bool
differences:
  description: What differs from the record, one sentence each.
  returned: always
  type: list
  elements: str
  sample: ["slots: was [['pb3', 'physical', True]], now [['pb3', 'physical', False]]"]
fingerprint:
  description: The I(fingerprint) given, for the task that records the node at the end of the run.
  returned: always
  type: str
recorded_at:
  description: When the record was written (UTC, ISO 8601); empty without one.
  returned: always
  type: str
msg:
  description: Whether the node is unchanged, and its summary, or what differs first.
  returned: always
  type: str
  sample: "a full run follows: server answers: was true, now false"
server:
  description:
    - What the server said about its role, so that a play decides from it without asking again. Whether
      it answered, is in recovery, its system identifier, timeline and data directory.
  returned: always
  type: dict
  sample: {answers: true, in_recovery: true, system_identifier: '7712368577910951996', timeline: 1,
           data_directory: /var/lib/polardb/nvme2n1/standby}
summary:
  description: The server's role and replication in a few words.
  returned: always
  type: str
  sample: in recovery, streaming from 172.18.0.2 through slot pb3
'''

import hashlib
import json
import os
import pwd
import re
import socket
import tempfile
import threading
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.polardb.cluster.plugins.module_utils.commands import TIMED_OUT, command_as
from ansible_collections.polardb.cluster.plugins.module_utils.paths import path_problem
from ansible_collections.polardb.cluster.plugins.module_utils.process import find_pfsdaemon

RECORD_VERSION = 1
# How the node is asked; the record keeps them, and a compare with others is no match.
CONNECTION_KEYS = ('psql', 'socket_dir', 'port', 'login_user', 'db', 'os_user', 'devices', 'pfs_disk')

SERVER_QUERY = r"""
SELECT json_build_object(
  'started', pg_postmaster_start_time()::text,
  'in_recovery', pg_is_in_recovery(),
  'system_identifier', (SELECT system_identifier FROM pg_control_system())::text,
  'timeline', CASE WHEN pg_is_in_recovery() THEN (SELECT timeline_id FROM pg_control_checkpoint())
                   ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
  'data_directory', current_setting('data_directory'),
  'files', (SELECT json_agg(DISTINCT f ORDER BY f) FROM (
      SELECT sourcefile FROM pg_settings WHERE sourcefile IS NOT NULL
      UNION SELECT setting FROM pg_settings
            WHERE name IN ('hba_file', 'ident_file', 'ssl_cert_file', 'ssl_key_file', 'ssl_ca_file', 'ssl_crl_file')
              AND setting <> '') s(f)),
  'primary_conninfo', current_setting('primary_conninfo', true),
  'pending_restart', (SELECT json_agg(name ORDER BY name) FROM pg_settings WHERE pending_restart),
  'slots', (SELECT json_agg(json_build_array(slot_name, slot_type, active) ORDER BY slot_name)
            FROM pg_replication_slots),
  'replication_roles', (SELECT json_agg(json_build_array(rolname, rolcanlogin,
                                   encode(sha256(convert_to(coalesce(rolpassword, ''), 'UTF8')), 'hex'))
                                 ORDER BY rolname) FROM pg_authid WHERE rolreplication),
  'replay_paused', CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END,
  'receiver', (SELECT json_build_array(status, slot_name, sender_host, sender_port) FROM pg_stat_wal_receiver))
"""
# Read by the server without being a setting's source (or, for the auto file, not always one).
DATA_DIR_FILES = ('standby.signal', 'replica.signal', 'postgresql.auto.conf')


def server_argv(connection):
    return [connection['psql'], '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-h', connection['socket_dir'],
            '-p', str(connection['port']), '-U', connection['login_user'], '-d', connection['db'], '-c', SERVER_QUERY]


def database_user(os_user):
    """The user psql must switch to: os_user when this runs as root, else nobody (it runs as itself).

    runuser, not become_user: sudo looks the host's name up, 20 s a task on a host cut off the network."""
    if not os_user or os.geteuid() != 0 or pwd.getpwuid(0).pw_name == os_user:
        return None
    return os_user


def ask_server(module, connection, timeout):
    # A PolarDB backend whose pfsd died accepts the connection and then hangs for good.
    argv = command_as(module, server_argv(connection), user=database_user(connection.get('os_user')),
                      timeout=timeout, kill_after=2)
    rc, out, err = module.run_command(argv, environ_update=dict(PGCONNECT_TIMEOUT=str(timeout)))
    if rc == TIMED_OUT:
        return {'answers': False, 'error': ['no answer within %d s' % timeout]}
    if rc != 0:
        return {'answers': False, 'error': [line.strip() for line in (err or out).strip().splitlines()[:2]]
                or ['psql exited with %d' % rc]}
    try:
        server = dict(json.loads(out), answers=True)
    except ValueError:
        return {'answers': False, 'error': ['unreadable answer from psql']}
    # It may hold a password: kept as a digest, with the password file it names.
    conninfo = server.pop('primary_conninfo', None) or ''
    server['passfile'] = passfile_of(conninfo)
    server['primary_conninfo_sha256'] = hashlib.sha256(conninfo.encode('utf-8')).hexdigest()
    return server


def passfile_of(conninfo):
    found = re.search(r"(?:^|\s)passfile\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", conninfo or '')
    if not found:
        return None
    value = found.group(1)
    return re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith("'") else value


def file_state(path):
    """A file's content, mode and owner; a folder's mode and owner."""
    try:
        info = os.stat(path)
        found = {'mode': '%04o' % (info.st_mode & 0o7777), 'uid': info.st_uid, 'gid': info.st_gid}
        if not os.path.isdir(path):
            with open(path, 'rb') as handle:
                found['sha256'] = hashlib.sha256(handle.read()).hexdigest()
    except (IOError, OSError) as error:
        return {'missing': error.__class__.__name__}
    return found


def device_state(alias):
    """The device behind an alias, its loop backing file and direct I/O, and where it is mounted."""
    if not os.path.exists(alias):
        return {'missing': True}
    device = os.path.realpath(alias)
    found = {'device': device, 'mounts': mounts_of({alias, device})}
    name = os.path.basename(device)
    loop = '/sys/block/%s/loop' % name
    if os.path.isdir(loop):
        found['backing_file'] = read_text(os.path.join(loop, 'backing_file'))
        found['direct_io'] = read_text(os.path.join(loop, 'dio'))
        try:
            found['backing_inode'] = os.stat(found['backing_file']).st_ino
        except (OSError, TypeError):
            found['backing_inode'] = None
    return found


def reach(host, port, timeout=3):
    """Whether a TCP connection to the follower's upstream opens; the error's kind if not.

    In a thread, because looking the name up has no timeout of its own (10 s on a cut link)."""
    outcome = {}

    def connect():
        try:
            socket.create_connection((host, int(port or 5432)), timeout=timeout).close()
            outcome['error'] = None
        except (socket.error, ValueError) as error:
            outcome['error'] = error.__class__.__name__

    attempt = threading.Thread(target=connect)
    attempt.daemon = True
    attempt.start()
    attempt.join(timeout)
    error = outcome.get('error', 'timeout')
    found = {'host': host, 'port': port, 'reachable': error is None}
    if error:
        found['error'] = error
    return found


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def mounts_of(sources):
    found = []
    for line in (read_text('/proc/self/mounts') or '').splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] in sources:
            found.append([fields[1], fields[2]])
    return sorted(found)


def snapshot(module, connection, timeout):
    taken = {}
    if connection['pfs_disk']:
        daemon = find_pfsdaemon(connection['pfs_disk'])
        taken['pfsd'] = {'pids': daemon.pids, 'argv': daemon.argv}
    if connection['pfs_disk'] and not daemon.running:
        server = {'answers': False, 'error': ['not asked: no pfsdaemon serves %s' % connection['pfs_disk']]}
    else:
        server = ask_server(module, connection, timeout)
    taken['server'] = server
    files = list(server.get('files') or [])
    data_dir = server.get('data_directory')
    if data_dir:
        files = [path if os.path.isabs(path) else os.path.join(data_dir, path) for path in files]
        files += [os.path.join(data_dir, name) for name in DATA_DIR_FILES]
    if server.get('passfile'):
        files.append(server['passfile'])
    taken['files'] = dict((path, file_state(path)) for path in sorted(set(files)))
    taken['devices'] = dict((alias, device_state(alias)) for alias in connection['devices'])
    # The folders holding them (the data directory, the TLS folder) and each mount point: owner and mode.
    folders = set(os.path.dirname(path) for path in files)
    for device in taken['devices'].values():
        folders.update(mount[0] for mount in device.get('mounts', []))
    taken['folders'] = dict((path, file_state(path)) for path in sorted(folders))
    receiver = server.get('receiver') or []
    if len(receiver) == 4 and receiver[2]:
        # A cut link leaves both ends saying "streaming" until their timeouts: ask the network.
        taken['upstream'] = reach(receiver[2], receiver[3])
    return taken


# The server first: a stopped one also loses its files, which would say less.
TOP_LEVEL_ORDER = ('server', 'upstream', 'pfsd', 'devices', 'folders', 'files')


def differences(recorded, now, prefix=''):
    found = []

    def rank(key):
        return (TOP_LEVEL_ORDER.index(key) if not prefix and key in TOP_LEVEL_ORDER else len(TOP_LEVEL_ORDER), key)

    for key in sorted(set(recorded) | set(now), key=rank):
        was, is_now = recorded.get(key), now.get(key)
        if was == is_now:
            continue
        if isinstance(was, dict) and isinstance(is_now, dict):
            found.extend(differences(was, is_now, prefix + key + ' '))
        else:
            found.append('%s%s: was %s, now %s' % (prefix, key, short(was), short(is_now)))
    return found


def short(value, limit=160):
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + '...'


def server_state(server):
    """What the server said about its role, for the play to decide from without asking again."""
    keys = ('answers', 'in_recovery', 'system_identifier', 'timeline', 'data_directory')
    return dict((key, server.get(key)) for key in keys)


def summary(server):
    if not server.get('answers'):
        return 'the server does not answer: %s' % ' '.join(server.get('error') or [])
    if not server.get('in_recovery'):
        slots = ', '.join('%s%s' % (slot[0], '' if slot[2] else ' (idle)') for slot in server.get('slots') or [])
        return 'accepts writes; replication slots: %s' % (slots or 'none')
    receiver = server.get('receiver') or [None, None, None, None]
    return 'in recovery, %s from %s through slot %s' % (receiver[0] or 'not streaming', receiver[2], receiver[1])


class NodeState(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.result = dict(changed=False, converged=False, differences=[], recorded_at='', summary='', server={},
                           fingerprint=module.params['fingerprint'])

    def read_record(self):
        try:
            with open(self.params['path']) as handle:
                record = json.load(handle)
        except (IOError, OSError):
            return None
        except ValueError:
            return {'unreadable': True}
        return record if isinstance(record, dict) else {'unreadable': True}

    def connection(self):
        return dict((key, self.params[key]) for key in CONNECTION_KEYS)

    def compared(self):
        record = self.read_record()
        now = snapshot(self.module, self.connection(), self.params['timeout'])
        self.result['server'] = server_state(now['server'])
        self.result['summary'] = summary(now['server'])
        if record is None:
            self.result['differences'] = ['no record of a full run at %s' % self.params['path']]
        elif record.get('version') != RECORD_VERSION or 'snapshot' not in record:
            self.result['differences'] = ['the record at %s is not one this collection wrote' % self.params['path']]
        else:
            self.result['recorded_at'] = record.get('recorded_at', '')
            if record.get('fingerprint') != self.params['fingerprint']:
                self.result['differences'] = ['the run asks for something else than the recorded one did '
                                              '(inventory, variables, collection or certificates changed)']
            elif record.get('connection') != self.connection():
                self.result['differences'] = ['the node is asked another way than when it was recorded: %s'
                                              % json.dumps(record.get('connection'), sort_keys=True)]
            else:
                self.result['differences'] = differences(record.get('snapshot', {}), now)
        self.result['converged'] = not self.result['differences']
        if self.result['converged']:
            self.result['msg'] = 'as the full run of %s left it: %s' % (self.result['recorded_at'], self.result['summary'])
        else:
            self.result['msg'] = 'a full run follows: %s' % '; '.join(self.result['differences'][:3])
        if record is not None and not self.result['converged'] and self.params['forget'] and not self.module.check_mode:
            self.remove_record()

    def recorded(self):
        connection = self.connection()
        now = snapshot(self.module, connection, self.params['timeout'])
        self.result.update(summary=summary(now['server']), server=server_state(now['server']))
        if not now['server'].get('answers'):
            # The cluster is as the run left it; only the next run's short way is lost.
            self.warn('Nothing recorded: the server on %s:%s does not answer (%s), so the next run goes through '
                      'every role.' % (connection['socket_dir'], connection['port'], ' '.join(now['server']['error'])))
            return
        self.result.update(converged=True, recorded_at=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
        if not self.module.check_mode:
            self.write_record(dict(version=RECORD_VERSION, fingerprint=self.params['fingerprint'],
                                   recorded_at=self.result['recorded_at'], connection=connection, snapshot=now))

    def absent(self):
        self.result['differences'] = ['asked to forget the record']
        if not self.module.check_mode and self.read_record() is not None:
            self.remove_record()

    def warn(self, message):
        self.result['converged'] = False
        self.result['msg'] = message
        self.module.warn(message)

    def write_record(self, record):
        """A private file of a private folder (0700), made if missing, written whole and renamed."""
        path = self.params['path']
        try:
            folder = os.path.dirname(path) or '.'
            if not os.path.isdir(folder):
                os.makedirs(folder, 0o700)
            descriptor, temporary = tempfile.mkstemp(dir=folder, prefix='.node_state.')
            with os.fdopen(descriptor, 'w') as handle:
                json.dump(record, handle, sort_keys=True)
            os.rename(temporary, path)
        except (IOError, OSError) as error:
            self.warn('Nothing recorded: %s cannot be written (%s), so the next run goes through every role.'
                      % (path, error))

    def remove_record(self):
        try:
            os.remove(self.params['path'])
        except OSError as error:
            self.module.fail_json(msg='Could not remove the record %s: %s. Remove it by hand (as root); until then '
                                      'a run may take it for this node\'s state.' % (self.params['path'], error))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            state=dict(type='str', choices=['compared', 'recorded', 'absent'], default='compared'),
            fingerprint=dict(type='str', required=True),
            forget=dict(type='bool', default=True),
            psql=dict(type='path', default='psql'),
            socket_dir=dict(type='path', default='/var/run/postgresql'),
            port=dict(type='int', default=5432),
            login_user=dict(type='str', default='postgres'),
            db=dict(type='str', default='postgres'),
            os_user=dict(type='str'),
            devices=dict(type='list', elements='path', default=[]),
            pfs_disk=dict(type='str', default=''),
            timeout=dict(type='int', default=10),
        ),
        supports_check_mode=True,
    )
    # Recording writes the file and makes its folder 0700; forgetting removes it.
    problem = path_problem(module.params['path'], 'path')
    if problem:
        module.fail_json(msg=problem)
    node = NodeState(module)
    getattr(node, module.params['state'])()
    module.exit_json(**node.result)


if __name__ == '__main__':
    main()
