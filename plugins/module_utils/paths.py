# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rule for the paths the collection makes, fills or clears.

A data directory, a disk image, a mount point or the state record is
written, and some are cleared by a rebuild or with force: a path that is
empty (``abspath('')`` is the login user's home), relative (made absolute
against whatever folder the module runs in), not normalised
(``/var/lib/../../etc`` is ``/etc``) or a system folder must be refused
before anything looks at what is there, so that no later message can
suggest force or grow for it.

Used by the modules (``data_dir``, ``staging_dir``, ``image``, the state
record) and by the filter ``polardb.cluster.path_problems``, which the roles
run on their variables before a run changes anything.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

# What the operating system and its packages own: nothing of ours goes in or
# under them. /var/run and /var/lock are /run's on every current system.
SYSTEM_TREES = ('/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc',
                '/run', '/sbin', '/sys', '/usr', '/var/lock', '/var/run')

# Folders that hold the things of many: fine as the parent of ours, never ours
# (a rebuild or force would clear everyone's files in them).
SHARED_FOLDERS = ('/data', '/home', '/media', '/mnt', '/opt', '/root', '/shared', '/srv', '/tmp',
                  '/var', '/var/cache', '/var/lib', '/var/log', '/var/spool', '/var/tmp')

# Characters no path of ours holds: a newline would break the files that name
# the path (postgresql.conf, the state record) and the messages that show it.
_CONTROL = re.compile(r'[\x00-\x1f\x7f]')


def _under(path, tree):
    return path == tree or path.startswith(tree + '/')


def path_problem(path, name, anywhere=False):
    """Why PATH may not be one the collection manages, or None when it may.

    NAME is what the operator set (``data_dir``, ``standby_data_dir``), shown
    in the message. With ANYWHERE only the form is checked (absolute and
    normalised), for files whose place is the operator's choice, such as a
    settings file under /etc/postgresql.
    """
    if path is None or path == '':
        return '%s is empty: it must be an absolute path, such as /var/lib/polardb/standby.' % name
    if not isinstance(path, str):
        return '%s is %r, not a path: it must be an absolute path such as /var/lib/polardb/standby.' % (name, path)
    if _CONTROL.search(path):
        return '%s %r holds a control character (a newline?): give the path alone.' % (name, path)
    if not path.startswith('/'):
        return ('%s %s is a relative path: it must be absolute (start with /), or it would depend on '
                'the folder the task runs in.' % (name, path))
    # normpath keeps a leading // (POSIX allows it a meaning of its own).
    if os.path.normpath(path) != path or path.startswith('//'):
        return ('%s %s is not a normalised path: write it without ".", "..", repeated slashes or a '
                'trailing slash, so that it names the folder it seems to.' % (name, path))
    if anywhere:
        return None
    if path == '/':
        return '%s is /, the root folder: it must be a folder of its own, such as /var/lib/polardb/standby.' % name
    for tree in SYSTEM_TREES:
        if _under(path, tree):
            return ('%s %s is in %s, which belongs to the operating system: choose a path outside %s, '
                    'such as one under /var/lib or /data.' % (name, path, tree, ', '.join(SYSTEM_TREES)))
    if path in SHARED_FOLDERS:
        return ('%s %s is a folder shared with other software: it must be a folder of its own under it, '
                'such as %s/polardb.' % (name, path, path))
    return None
