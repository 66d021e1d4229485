# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find pfsdaemon (and pg_receivewal) processes from /proc, not from `ps | grep`.

start_pfsd.sh decides "already running" with `ps -ef | grep pfsdaemon | grep -w NAME`,
so any command line holding both words (the shell running the script, an editor)
fools it. Here a daemon is a process whose argv[0] is pfsdaemon and whose
arguments contain `-p NAME`. Its pid file RUN_DIR/pfsd_NAME.pid names the
parent that wrote it before forking, not the daemon: what ties the file to the
daemon is the flock the daemon holds on it (seen in /proc/PID/fdinfo).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
from collections import namedtuple


def iter_processes(proc_root='/proc'):
    """(pid, argv) of every visible process with a command line.

    Kernel threads and zombies (the `[pfsdaemon] <defunct>` left in a container
    without an init) have an empty cmdline and are skipped.
    """
    try:
        names = os.listdir(proc_root)
    except OSError:
        return
    for name in sorted(names, key=lambda n: int(n) if n.isdigit() else -1):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc_root, name, 'cmdline'), 'rb') as handle:
                raw = handle.read()
        except OSError:
            continue  # gone since listdir, or not ours to read
        argv = [arg.decode('utf-8', 'surrogateescape') for arg in raw.split(b'\0')]
        while argv and argv[-1] == '':
            argv.pop()
        if argv:
            yield int(name), argv


def _option(argv, flag):
    """Value of a short option given as `-p NAME` or `-pNAME`."""
    for index, arg in enumerate(argv[1:], 1):
        if arg == flag and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(flag) and len(arg) > len(flag) and not arg.startswith('--'):
            return arg[len(flag):]
    return None


def is_pfsdaemon_for(argv, disk):
    return bool(argv) and os.path.basename(argv[0]) == 'pfsdaemon' and _option(argv, '-p') == disk


def workers_of(argv):
    value = _option(argv, '-w')
    return int(value) if value and value.isdigit() else None


def pid_file(disk, run_dir='/var/run/pfsd'):
    return os.path.join(run_dir, 'pfsd_%s.pid' % disk)


def holds_flock_on(pid, path, proc_root='/proc'):
    """Whether process pid has an flock on path, from its /proc fd and fdinfo entries."""
    try:
        target = os.stat(path)
        fds = os.listdir(os.path.join(proc_root, str(pid), 'fd'))
    except OSError:
        return False
    for fd in fds:
        try:
            opened = os.stat(os.path.join(proc_root, str(pid), 'fd', fd))
            if (opened.st_dev, opened.st_ino) != (target.st_dev, target.st_ino):
                continue
            with open(os.path.join(proc_root, str(pid), 'fdinfo', fd)) as handle:
                if any(line.startswith('lock:') and 'FLOCK' in line for line in handle):
                    return True
        except OSError:
            continue
    return False


class PfsdaemonLookup(namedtuple('PfsdaemonLookup', 'disk pid argv pids pidfile pidfile_locked')):
    """What /proc says about the pfsdaemon of one disk.

    pid/argv: the daemon found in /proc (the lowest pid if several), else None.
    pids: every matching pid. pidfile_locked: whether the daemon holds its pid file's flock.
    """

    @property
    def running(self):
        return self.pid is not None

    @property
    def workers(self):
        return workers_of(self.argv) if self.argv else None

    def trouble(self):
        """A sentence for the user when the daemons look wrong, else None."""
        if len(self.pids) > 1:
            return 'several pfsdaemon processes serve %s: %s' % (self.disk, ', '.join(map(str, self.pids)))
        if self.running and not self.pidfile_locked:
            return ('pfsdaemon -p %s runs as pid %s but holds no lock on %s: another daemon for the disk '
                    'may have been started, or the file was removed' % (self.disk, self.pid, self.pidfile))
        return None


def find_pfsdaemon(disk, proc_root='/proc', run_dir='/var/run/pfsd'):
    matches = [(pid, argv) for pid, argv in iter_processes(proc_root) if is_pfsdaemon_for(argv, disk)]
    pidfile = pid_file(disk, run_dir)
    pid, argv = matches[0] if matches else (None, None)
    locked = pid is not None and holds_flock_on(pid, pidfile, proc_root)
    return PfsdaemonLookup(disk, pid, argv, [m[0] for m in matches], pidfile, locked)


def find_lookalikes(disk, proc_root='/proc'):
    """(pid, command line) of processes that start_pfsd.sh's grep would take for a daemon of disk."""
    word = re.compile(r'(?<![\w])%s(?![\w])' % re.escape(disk))
    found = []
    for pid, argv in iter_processes(proc_root):
        line = ' '.join(argv)
        if 'pfsdaemon' in line and word.search(line) and not is_pfsdaemon_for(argv, disk):
            found.append((pid, line))
    return found


def find_pfsd_clients(disk, proc_root='/proc', run_dir='/var/run/pfsd'):
    """(pid, command line) of live processes using pfsd for disk.

    A client registers RUN_DIR/DISK/PID.pid with pfsd; a database may also be
    found by the disk's pfsd shared memory in its mappings. A stale file whose
    pid now names some other process still counts: stopping pfsd is the kind
    of step that must rather refuse once too often.
    """
    pids = set()
    try:
        pids.update(int(name[:-4]) for name in os.listdir(os.path.join(run_dir, disk))
                    if name.endswith('.pid') and name[:-4].isdigit())
    except OSError:
        pass
    segment = '/shm_pfsd-%s_' % disk
    clients = []
    for pid, argv in iter_processes(proc_root):
        if is_pfsdaemon_for(argv, disk):
            continue
        if pid not in pids:
            try:
                with open(os.path.join(proc_root, str(pid), 'maps')) as handle:
                    if not any(segment in line for line in handle):
                        continue
            except (IOError, OSError):
                continue
        clients.append((pid, ' '.join(argv)))
    return clients


RECEIVER = 'pg_receivewal'


def receiver_directory_option(directory):
    return '--directory=%s' % directory


def receivers_of(directory, proc_root='/proc'):
    """(pid, argv) of each pg_receivewal writing into directory (given as --directory=DIR)."""
    option = receiver_directory_option(directory)
    return [(pid, argv) for pid, argv in iter_processes(proc_root)
            if os.path.basename(argv[0]) == RECEIVER and option in argv[1:]]
