# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a PostgreSQL tool as the database's operating system user, within a time limit.

runuser, not become_user: sudo looks the host's name up (20 s a task on a host cut
off the network), and one module runs its PFS commands as root and the PostgreSQL
tools as the owner of the data. timeout, because a PolarDB backend whose pfsd died
accepts a connection and then hangs for good.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import pwd

TIMED_OUT = 124  # timeout(1)'s exit status when the limit was reached
C_LOCALE = {'LC_ALL': 'C', 'LANG': 'C', 'LANGUAGE': 'C'}  # the tools' output is parsed


def switch_user(name, option='owner', root_also=''):
    """The passwd entry to run as, None when this process already runs as name (or no name).

    Raises ValueError, naming the module's option, for a user that does not exist
    or that this process cannot become (root_also: what else the module does as root).
    """
    if not name:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ValueError('%s %s is not a user on this host.' % (option, name))
    if entry.pw_uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        raise ValueError('%s=%s needs the module to run as root (become: true, no become_user): it runs the '
                         'PostgreSQL tools as %s%s.' % (option, name, name, root_also))
    return entry


def command_as(module, argv, user=None, timeout=None, kill_after=30):
    """argv, run as user (a name, or None for this process's user) and killed after timeout seconds."""
    argv = list(argv)
    if timeout:
        argv = [module.get_bin_path('timeout', required=True), '-k', str(kill_after), str(timeout)] + argv
    if user:
        argv = [module.get_bin_path('runuser', required=True), '-u', user, '--'] + argv
    return argv


def run_as(module, argv, user=None, timeout=None, kill_after=30, env=None):
    """Run a tool in the C locale as command_as says; (argv as run, rc, stdout, stderr)."""
    argv = command_as(module, argv, user, timeout, kill_after)
    rc, out, err = module.run_command(argv, environ_update=dict(C_LOCALE, **(env or {})),
                                      expand_user_and_vars=False)
    return argv, rc, out, err
