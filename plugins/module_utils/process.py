# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find pfsdaemon processes from /proc, not from `ps | grep`.

start_pfsd.sh decides "already running" with `ps -ef | grep pfsdaemon | grep -w NAME`,
so any command line holding both words (the shell running the script, an editor)
fools it. Here a daemon is a process whose argv[0] is pfsdaemon and whose
arguments contain `-p NAME`, cross-checked with RUN_DIR/pfsd_NAME.pid.
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


def read_pid_file(path):
    """The pid in path, None when there is no such file or it holds no number."""
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class PfsdaemonLookup(namedtuple('PfsdaemonLookup', 'disk pid argv pids pidfile pidfile_pid')):
    """What /proc and the pid file say about the pfsdaemon of one disk.

    pid/argv: the daemon found in /proc (the lowest pid if several), else None.
    pids: every matching pid. pidfile_pid: the number in pidfile, else None.
    """

    @property
    def running(self):
        return self.pid is not None

    @property
    def workers(self):
        return workers_of(self.argv) if self.argv else None

    @property
    def agree(self):
        return len(self.pids) <= 1 and self.pid == self.pidfile_pid

    def disagreement(self):
        """A sentence for the user when /proc and the pid file disagree, else None."""
        if len(self.pids) > 1:
            return 'several pfsdaemon processes serve %s: %s' % (self.disk, ', '.join(map(str, self.pids)))
        if self.pid == self.pidfile_pid:
            return None
        if self.pid is None:
            return ('%s names pid %s, but no pfsdaemon -p %s process runs (stale pid file)'
                    % (self.pidfile, self.pidfile_pid, self.disk))
        if self.pidfile_pid is None:
            return 'pfsdaemon -p %s runs as pid %s, but %s is missing' % (self.disk, self.pid, self.pidfile)
        return ('pfsdaemon -p %s runs as pid %s, but %s names pid %s'
                % (self.disk, self.pid, self.pidfile, self.pidfile_pid))


def find_pfsdaemon(disk, proc_root='/proc', run_dir='/var/run/pfsd'):
    matches = [(pid, argv) for pid, argv in iter_processes(proc_root) if is_pfsdaemon_for(argv, disk)]
    pidfile = pid_file(disk, run_dir)
    pid, argv = matches[0] if matches else (None, None)
    return PfsdaemonLookup(disk, pid, argv, [m[0] for m in matches], pidfile, read_pid_file(pidfile))


def find_lookalikes(disk, proc_root='/proc'):
    """(pid, command line) of processes that start_pfsd.sh's grep would take for a daemon of disk."""
    word = re.compile(r'(?<![\w])%s(?![\w])' % re.escape(disk))
    found = []
    for pid, argv in iter_processes(proc_root):
        line = ' '.join(argv)
        if 'pfsdaemon' in line and word.search(line) and not is_pfsdaemon_for(argv, disk):
            found.append((pid, line))
    return found
