# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The crash marker of a run that writes a copy of a primary, and its lock.

Before writing, a run records beside its data directory what it creates
(PARENT/.BASENAME.polar_basebackup.json). A run that finds the file knows an
earlier one died half-way and removes those leftovers, and only them, without
needing force. One run at a time: an flock on the folder of the data directory.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import json
import os
import shutil
import time

from ansible_collections.polardb.cluster.plugins.module_utils.backup_plan import BackupFailed

MARKER_SUFFIX = '.polar_basebackup.json'


def marker_path(data_dir):
    return os.path.join(os.path.dirname(data_dir), '.%s%s' % (os.path.basename(data_dir), MARKER_SUFFIX))


def dir_entries(path):
    """Names in a local directory; None when it does not exist."""
    return sorted(os.listdir(path)) if os.path.isdir(path) else None


def local_size(path):
    total = 0
    for top, _dirs, names in os.walk(path):
        total += sum(os.lstat(os.path.join(top, name)).st_size for name in names)
    return total


def empty_local(path, remove_dir=False):
    """Remove what path holds (and path itself when remove_dir), never following a link out of it."""
    if remove_dir:
        if os.path.isdir(path):
            shutil.rmtree(path)
        return
    for name in dir_entries(path) or []:
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.remove(full)


class Marker(object):
    """The marker of the run writing into data_dir; give_to_owner(path) chowns what it writes."""

    def __init__(self, data_dir, module_name, give_to_owner=None):
        self.data_dir = data_dir
        self.path = marker_path(data_dir)
        self.module_name = module_name
        self.give_to_owner = give_to_owner or (lambda path: None)
        self.lock_fd = None

    def lock(self):
        """Hold an flock on data_dir's parent for the rest of the process's life.

        A second run would otherwise take the first one's marker for a crash and
        remove a backup still in progress. The folder is locked, not a file in it,
        so that a refused run leaves nothing behind.
        """
        parent = os.path.dirname(self.data_dir)
        fd = os.open(parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as e:
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            recorded = self.pid()
            raise BackupFailed('Another %s run%s holds the lock on %s, the folder of data_dir %s; wait for it '
                               'to end.' % (self.module_name.split('.')[-1],
                                            ' (pid %s)' % recorded if recorded else '', parent, self.data_dir))
        self.lock_fd = fd

    def pid(self):
        try:
            with open(self.path) as handle:
                return json.load(handle).get('pid')
        except (IOError, OSError, ValueError, AttributeError):
            return None

    def read(self):
        """The record of an interrupted run, None when there is none."""
        if not os.path.exists(self.path):
            return None
        try:
            with open(self.path) as handle:
                return json.load(handle)
        except ValueError as e:
            raise BackupFailed('The marker %s of an interrupted run is unreadable (%s); look at what it left '
                               'in data_dir and polar_datadir, then remove the marker.' % (self.path, e))

    def write(self, locations):
        """Record locations (dicts of kind, path, created) before anything is written there."""
        record = dict(module=self.module_name, pid=os.getpid(), started=time.time(), locations=locations)
        with open(self.path + '.tmp', 'w') as handle:
            json.dump(record, handle, indent=1)
        self.give_to_owner(self.path + '.tmp')
        os.rename(self.path + '.tmp', self.path)
        return record

    def remove(self):
        os.remove(self.path)

    def clean(self, record, own, empty_pfs, warn, paths=None):
        """Remove what record lists (of paths, if given): a directory it created, else its contents.

        Only own paths (the run's own data_dir, staging folder, polar_datadir) are
        touched: a marker naming anything else (edited, or left by a run with
        other parameters) is reported through warn, not obeyed.
        """
        for entry in sorted(record['locations'], key=lambda e: -len(e['path'])):
            path = entry['path']
            if paths and path not in paths:
                continue
            if path not in own:
                warn('%s lists %s, which is none of this run\'s data_dir, staging folder or polar_datadir: '
                     'left as it is' % (self.path, path))
                continue
            if entry['kind'] == 'pfs' and path.strip('/').count('/') >= 1:  # never a disk root
                empty_pfs(path, remove_dir=entry['created'])
            elif entry['kind'] == 'local' and os.path.isabs(path) and path != '/':
                empty_local(path, remove_dir=entry['created'])
