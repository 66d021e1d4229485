#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: pfsd
short_description: Start, stop or restart the PFS daemon (pfsdaemon) of one disk
version_added: 0.1.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Runs C(PFSD_HOME/bin/start_pfsd.sh -p DISK -w WORKERS) and C(stop_pfsd.sh DISK).
  - Whether the daemon runs is decided from C(/proc), never from the scripts, which
    C(grep) C(ps -ef) for the disk name and are fooled by any command line that holds
    both C(pfsdaemon) and the name. A daemon is a process whose executable is
    C(pfsdaemon) with C(-p DISK) in its arguments. Its pid file C(RUN_DIR/pfsd_DISK.pid)
    names the parent that wrote it before forking; what ties the file to the daemon
    is the lock the daemon holds on it.
  - Before starting, C(/dev/DISK) must exist and hold PFS (the script happily starts a
    useless daemon for a missing disk). After starting, the module waits until the
    daemon serves a client. C(pfs ls /DISK/) goes through pfsd when one answers (and
    straight to the disk otherwise, so its answer alone proves nothing), and pfsd logs
    the client's mount in C(/var/log/pfsd-DISK/pfsd.log).
extends_documentation_fragment:
  - polardb.cluster.pfs
options:
  disk:
    description:
      - PFS disk name, the device node name under C(/dev) (for example C(nvme2n1)).
    type: str
    required: true
  state:
    description:
      - C(started) starts the daemon unless one runs; C(stopped) stops it if it runs;
        C(restarted) stops it if it runs and starts it again, always reporting a change.
    type: str
    choices: [started, stopped, restarted]
    default: started
  workers:
    description:
      - Number of worker threads (C(-w)).
      - A running daemon with another number is reported (I(workers_mismatch)) and
        warned about, but only restarted with I(state=restarted).
    type: int
    default: 1
  pfsd_home:
    description:
      - Installation directory of pfsd; the scripts are C(bin/start_pfsd.sh) and C(bin/stop_pfsd.sh) in it.
    type: path
    default: /usr/local/polarstore/pfsd
  extra_args:
    description:
      - More arguments for C(start_pfsd.sh), after C(-p DISK -w WORKERS).
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds to wait for the daemon to serve the disk after starting, or to be gone after stopping.
    type: int
    default: 60
  run_dir:
    description:
      - Run directory of pfsd, holding C(pfsd_DISK.pid) and the clients' C(DISK/PID.pid).
    type: path
    default: /var/run/pfsd
  force:
    description:
      - Stop or restart the daemon even while clients use it (a database on the disk).
        Their PFS calls then hang until a daemon serves the disk again.
      - Without it, I(state=stopped) and I(state=restarted) refuse while a live process
        is registered in C(RUN_DIR/DISK/) or maps the disk's pfsd shared memory.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Looks the daemon up in C(/proc) and checks that it could start; reports what would change.
  diff_mode:
    support: full
    description: Shows whether the daemon runs, its pid and its worker count, before and after.
notes:
  - When the daemon does not come up, the message ends with the last lines of
    C(/var/log/pfsd-DISK/pfsd.log).
  - In a container, run an init as PID 1 (docker C(--init)); pfsdaemon daemonizes and
    otherwise leaves a zombie behind.
seealso:
  - module: polardb.cluster.pfs_mkfs
'''

EXAMPLES = r'''
- name: Serve the standby's PFS disk
  polardb.cluster.pfsd:
    disk: nvme2n1
    workers: 1

- name: Stop pfsd before re-formatting the disk
  polardb.cluster.pfsd:
    disk: nvme2n1
    state: stopped
'''

RETURN = r'''
disk:
  description: The disk name.
  returned: always
  type: str
  sample: nvme2n1
state:
  description: The requested state.
  returned: always
  type: str
  sample: started
pid:
  description:
    - Process id of the pfsdaemon serving the disk.
    - Null when none runs (or, in check mode, when it is not started yet).
  returned: always
  type: int
  sample: 50
workers:
  description: The C(-w) of the running daemon, null when none runs or it has no C(-w).
  returned: always
  type: int
  sample: 1
workers_mismatch:
  description: Whether a daemon left running has a C(-w) other than I(workers).
  returned: always
  type: bool
pidfile_locked:
  description: Whether the running daemon holds the lock on C(RUN_DIR/pfsd_DISK.pid).
  returned: always
  type: bool
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.polardb.cluster.plugins.module_utils.pfs import Pfs, PfsError, pfs_argument_spec
from ansible_collections.polardb.cluster.plugins.module_utils.process import (
    find_lookalikes, find_pfsd_clients, find_pfsdaemon)

DEV_DIR = '/dev'
PROC_ROOT = '/proc'
LOG_PATH = '/var/log/pfsd-%s/pfsd.log'
LOG_TAIL_LINES = 20
# What pfsd logs when a client (pfs, postgres) mounts the disk through it.
SERVED_LINE = 'mount successed for %s'
POLL_INTERVAL = 1.0


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def read_from(path, offset):
    try:
        with open(path, 'rb') as handle:
            handle.seek(offset if offset <= os.fstat(handle.fileno()).st_size else 0)  # rotated meanwhile
            return handle.read().decode('utf-8', 'replace')
    except (IOError, OSError):
        return ''


def served_a_client(log_text, disk):
    return any(line.rstrip().endswith(SERVED_LINE % disk) for line in log_text.splitlines())


class Pfsd(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.disk = module.params['disk']
        bin_dir = os.path.join(module.params['pfsd_home'], 'bin')
        self.start_script = os.path.join(bin_dir, 'start_pfsd.sh')
        self.stop_script = os.path.join(bin_dir, 'stop_pfsd.sh')

    def lookup(self):
        return find_pfsdaemon(self.disk, PROC_ROOT, self.params['run_dir'])

    def check_startable(self):
        device = os.path.join(DEV_DIR, self.disk)
        if not os.path.exists(device):
            self.module.fail_json(msg='%s does not exist: create the loop device and its alias first; '
                                      'start_pfsd.sh would "succeed" and leave a useless daemon' % device)
        self._script(self.start_script)
        try:
            formatted = self.pfs().is_formatted(self.disk)
        except PfsError as exc:
            self.module.fail_json(msg=str(exc))
        if not formatted:
            self.module.fail_json(msg='%s holds no PFS (pfs ls /%s/ exits 5): format it first with '
                                      'polardb.cluster.pfs_mkfs' % (device, self.disk))

    def pfs(self):
        if not hasattr(self, '_pfs'):
            self._pfs = Pfs(self.module, self.params['cluster'], self.params['pfs_path'])
        return self._pfs

    def _script(self, path):
        if not os.access(path, os.X_OK):
            self.module.fail_json(msg='%s is missing or not executable: is pfsd installed under %s (pfsd_home)?'
                                      % (path, self.params['pfsd_home']))
        return path

    def start(self):
        argv = [self._script(self.start_script), '-p', self.disk, '-w', str(self.params['workers'])]
        rc, out, err = self.module.run_command(argv + self.params['extra_args'])
        if rc != 0:
            if 'already exist' in out + err:
                found = self.lookup()
                if found.running:  # started by someone else meanwhile
                    return found
                self.module.fail_json(msg=self._lookalike_message())
            self.module.fail_json(msg='start_pfsd.sh -p %s failed with rc %d: %s' % (
                self.disk, rc, ' | '.join((out + err).strip().splitlines()[-5:]) or 'no output'),
                rc=rc, stdout=out, stderr=err)
        return self.wait_until_serving('did not come up')

    def wait_until_serving(self, failure):
        return self._wait(self._serving, failure)

    def stop(self):
        rc, out, err = self.module.run_command([self._script(self.stop_script), self.disk])
        # 'not exist' (rc 1) only means the script's own lookup missed it; /proc decides below
        if rc != 0 and 'not exist' not in out + err:
            self.module.fail_json(msg='stop_pfsd.sh %s failed with rc %d: %s' % (
                self.disk, rc, ' | '.join((out + err).strip().splitlines()[-5:]) or 'no output'),
                rc=rc, stdout=out, stderr=err)
        return self._wait(self._gone, 'is still running after stop_pfsd.sh (output: %s)' % (out + err).strip())

    def _gone(self):
        found = self.lookup()
        return None if found.running else found

    def _serving(self):
        """The daemon once a client of the disk got served by it, else None."""
        found = self.lookup()
        if not found.running:
            return None
        log = LOG_PATH % self.disk
        offset = file_size(log)
        if self.pfs().run(['ls', '/%s/' % self.disk]).rc != 0:
            return None
        return found if served_a_client(read_from(log, offset), self.disk) else None

    def _wait(self, probe, failure):
        deadline = time.monotonic() + self.params['timeout']
        while True:
            found = probe()
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_INTERVAL)
        last = self.lookup()
        self.module.fail_json(msg='pfsdaemon -p %s %s within %ds (pid now: %s). %s'
                                  % (self.disk, failure, self.params['timeout'], last.pid, self._log_tail()))

    def _log_tail(self):
        path = LOG_PATH % self.disk
        try:
            with open(path, errors='replace') as handle:
                lines = handle.read().splitlines()[-LOG_TAIL_LINES:]
        except (IOError, OSError):
            return 'No log at %s.' % path
        return 'Last lines of %s:\n%s' % (path, '\n'.join(lines))

    def _lookalike_message(self):
        matches = find_lookalikes(self.disk, PROC_ROOT)
        named = '; '.join('pid %d: %s' % match for match in matches) or 'none visible from here'
        return ("start_pfsd.sh says '%s already exist' but no pfsdaemon -p %s process runs. The script "
                "greps 'ps -ef' for lines holding both 'pfsdaemon' and '%s'; processes matching: %s. "
                "End them (or rename what carries both words) and run again."
                % (self.disk, self.disk, self.disk, named))


def main():
    argument_spec = pfs_argument_spec()
    argument_spec.update(
        disk=dict(type='str', required=True),
        state=dict(type='str', default='started', choices=['started', 'stopped', 'restarted']),
        workers=dict(type='int', default=1),
        pfsd_home=dict(type='path', default='/usr/local/polarstore/pfsd'),
        extra_args=dict(type='list', elements='str', default=[]),
        timeout=dict(type='int', default=60),
        run_dir=dict(type='path', default='/var/run/pfsd'),
        force=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    disk, state, workers = module.params['disk'], module.params['state'], module.params['workers']
    if not disk or '/' in disk or disk in ('.', '..'):
        module.fail_json(msg="disk must be a device name under /dev such as 'nvme2n1', not %r" % disk)
    if workers < 1 or module.params['timeout'] < 0:
        module.fail_json(msg='workers must be at least 1 and timeout not negative')

    pfsd = Pfsd(module)
    found = pfsd.lookup()
    if found.trouble():
        module.warn(found.trouble())
    result = dict(changed=False, disk=disk, state=state, pid=found.pid, workers=found.workers,
                  workers_mismatch=False, pidfile_locked=found.pidfile_locked)
    before = dict(running=found.running, pid=found.pid, workers=found.workers)

    if state == 'stopped' and not found.running:
        module.exit_json(**result)
    if state == 'started' and found.running:
        if found.workers is not None and found.workers != workers:
            result['workers_mismatch'] = True
            module.warn('pfsdaemon -p %s (pid %d) runs with -w %d, not %d; use state=restarted to apply it'
                        % (disk, found.pid, found.workers, workers))
        if not os.path.exists(os.path.join(DEV_DIR, disk)):
            module.warn('pfsdaemon -p %s runs but %s/%s does not exist' % (disk, DEV_DIR, disk))
        else:
            pfsd.wait_until_serving('runs (pid %d) but serves no client: it may be stopped or hung; '
                                    'restart it (state=restarted) once no database uses the disk' % found.pid)
        module.exit_json(**result)

    if found.running and not module.params['force']:
        clients = find_pfsd_clients(disk, PROC_ROOT, module.params['run_dir'])
        if clients:
            module.fail_json(msg='pfsdaemon -p %s serves %d client(s) (%s): stopping it would leave their PFS '
                                 'calls hanging. Stop them first (the database on the disk), or set force=true.'
                                 % (disk, len(clients), '; '.join('pid %d: %s' % c for c in clients[:5])),
                             **result)
    if state != 'stopped':
        pfsd.check_startable()  # before stopping anything a restart could not bring back
    result['changed'] = True
    if not module.check_mode:
        if found.running:
            found = pfsd.stop()
        if state != 'stopped':
            found = pfsd.start()
        result.update(pid=found.pid, workers=found.workers, pidfile_locked=found.pidfile_locked)
    elif state == 'stopped':
        result.update(pid=None, workers=None)
    else:
        result.update(pid=None, workers=workers)
    if module._diff:
        result['diff'] = dict(before=before, after=dict(running=state != 'stopped', pid=result['pid'],
                                                        workers=result['workers']))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
