#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: wal_receiver
short_description: Keep a pg_receivewal process archiving the primary's WAL into a directory
version_added: 0.3.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Starts C(pg_receivewal) in the background with C(start-stop-daemon) (its own session, its output
    appended to I(log_file), its pid in C(pg_receivewal.pid) beside it)
    so that it streams the primary's WAL through a replication slot into I(directory), or stops it.
  - The process is found in C(/proc) by its program name and its C(--directory); one whose
    command line differs from the wanted one (another primary, slot or option) is restarted.
  - pg_receivewal retries by itself when the primary goes away; the slot keeps the WAL it has not
    received (up to the primary's C(max_slot_wal_keep_size)), so the archive has no gap after it.
  - Works the same on PolarDB, whose WAL lives on PFS, because the WAL travels over the replication
    protocol, not through the file system.
options:
  directory:
    description: Archive directory (it must exist, owned by the user the module runs as).
    type: path
    required: true
  slot:
    description: Physical replication slot on the primary (it must exist there).
    type: str
    required: true
  conninfo:
    description:
      - libpq connection string to the primary, without a password (name a C(passfile)).
    type: str
    required: true
  bin_dir:
    description: Directory holding C(pg_receivewal).
    type: path
    required: true
  log_file:
    description: File the process's messages are appended to.
    type: path
    required: true
  synchronous:
    description:
      - Flush every piece of WAL as it arrives (C(--synchronous)), so the archive holds every
        commit the primary has flushed, not only full segments.
    type: bool
    default: true
  state:
    description: C(started) keeps one process running as wanted, C(stopped) ends it.
    type: str
    choices: [started, stopped]
    default: started
  wait_seconds:
    description:
      - Seconds a started process must stay alive before it counts as started, and that a
        stopped one is given to end before it is killed.
    type: int
    default: 3
attributes:
  check_mode:
    support: full
    description: Finds the process and reports whether it would be started, restarted or stopped.
  diff_mode:
    support: full
    description: Shows the command line before and after.
requirements:
  - start-stop-daemon (Debian and Ubuntu's dpkg)
notes:
  - A process that started is not proof that it streams (it retries a primary it cannot reach), so
    check the slot's C(active) on the primary, as the C(backup) role does.
'''

EXAMPLES = r'''
- name: Archive the primary's WAL on the backup host
  polardb.cluster.wal_receiver:
    directory: /var/lib/polardb-backup/wal
    slot: pb3_archive
    conninfo: host=pb1 port=5432 user=replicator passfile=/var/lib/postgresql/.pgpass.pb3 application_name=pb3_archive
    bin_dir: /usr/lib/postgresql/15/bin
    log_file: /var/lib/polardb-backup/pg_receivewal.log
  become: true
  become_user: postgres
'''

RETURN = r'''
pid:
  description: Process id of the running pg_receivewal (null when stopped).
  returned: always
  type: int
argv:
  description: Its command line.
  returned: always
  type: list
  elements: str
action:
  description: What was done, C(none), C(started), C(restarted) or C(stopped).
  returned: always
  type: str
'''

import os
import signal
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.polardb.cluster.plugins.module_utils.process import (
    RECEIVER, receiver_directory_option, receivers_of)

PROC_ROOT = '/proc'


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().split(') ', 1)[1][:1] != 'Z'
    except (IOError, OSError, IndexError):
        return False


def log_tail(path, lines=5):
    try:
        with open(path, 'rb') as handle:
            handle.seek(max(0, os.path.getsize(path) - 4096))
            return ' | '.join(handle.read().decode('utf-8', 'replace').strip().splitlines()[-lines:])
    except (IOError, OSError):
        return ''


class Receiver(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.directory = os.path.realpath(self.params['directory'])
        self.result = dict(changed=False, action='none', pid=None, argv=[])

    def wanted_argv(self):
        argv = [os.path.join(self.params['bin_dir'], RECEIVER), receiver_directory_option(self.directory),
                '--slot=%s' % self.params['slot'], '--dbname=%s' % self.params['conninfo'], '--no-password']
        if self.params['synchronous']:
            argv.append('--synchronous')
        return argv

    def running(self):
        found = receivers_of(self.directory, PROC_ROOT)
        if len(found) > 1:
            self.module.fail_json(
                msg='Several pg_receivewal processes write into %s (pids %s): they would overwrite each '
                    'other\'s segments. Stop all but one (or run this module with state=stopped), then run '
                    'again.' % (self.directory, ', '.join(str(pid) for pid, _argv in found)))
        return found[0] if found else (None, None)

    def stop(self, pid):
        os.kill(pid, signal.SIGINT)  # pg_receivewal flushes what it received and exits
        deadline = time.time() + max(self.params['wait_seconds'], 10)
        while alive(pid) and time.time() < deadline:
            time.sleep(0.2)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)

    def start(self, argv):
        # start-stop-daemon detaches it (new session, output to the log) and returns at once:
        # run_command would wait for a child that keeps its pipes.
        pidfile = os.path.join(os.path.dirname(self.params['log_file']), 'pg_receivewal.pid')
        daemon = self.module.get_bin_path('start-stop-daemon', required=True, opt_dirs=['/sbin', '/usr/sbin'])
        rc, out, err = self.module.run_command(
            [daemon, '--start', '--background', '--make-pidfile', '--pidfile', pidfile,
             '--output', self.params['log_file'], '--chdir', self.directory, '--exec', argv[0], '--'] + argv[1:],
            expand_user_and_vars=False)
        if rc != 0:
            self.module.fail_json(msg='start-stop-daemon could not start pg_receivewal (exit code %d): %s'
                                      % (rc, (err or out).strip()), argv=argv)
        with open(pidfile) as handle:
            pid = int(handle.read().strip())
        deadline = time.time() + self.params['wait_seconds']
        while alive(pid) and time.time() < deadline:
            time.sleep(0.2)
        if not alive(pid):
            self.module.fail_json(
                msg='pg_receivewal exited at once: %s. Check the slot %s on the primary, the connection string '
                    'and %s.' % (log_tail(self.params['log_file']), self.params['slot'], self.params['log_file']),
                argv=argv)
        return pid

    def present(self):
        if not os.path.isdir(self.directory):
            self.module.fail_json(msg='The archive directory %s does not exist: create it (owned by the user '
                                      'pg_receivewal runs as) first.' % self.directory)
        pid, argv = self.running()
        wanted = self.wanted_argv()
        if pid is not None and argv == wanted:
            self.result.update(pid=pid, argv=argv)
            return
        self.result.update(changed=True, action='restarted' if pid else 'started', argv=wanted,
                           diff=dict(before={'argv': argv or []}, after={'argv': wanted}))
        if self.module.check_mode:
            return
        if pid is not None:
            self.stop(pid)
        self.result['pid'] = self.start(wanted)

    def absent(self):
        pid, argv = self.running()
        if pid is None:
            return
        self.result.update(changed=True, action='stopped',
                           diff=dict(before={'argv': argv}, after={'argv': []}))
        if not self.module.check_mode:
            self.stop(pid)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directory=dict(type='path', required=True),
            slot=dict(type='str', required=True),
            conninfo=dict(type='str', required=True),
            bin_dir=dict(type='path', required=True),
            log_file=dict(type='path', required=True),
            synchronous=dict(type='bool', default=True),
            state=dict(type='str', choices=['started', 'stopped'], default='started'),
            wait_seconds=dict(type='int', default=3),
        ),
        supports_check_mode=True,
    )
    receiver = Receiver(module)
    if module.params['state'] == 'started':
        receiver.present()
    else:
        receiver.absent()
    module.exit_json(**receiver.result)


if __name__ == '__main__':
    main()
