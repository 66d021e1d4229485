# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a base backup into a node's directories is needed, and what it may clear.

One pure decision, from what the caller found, for check mode and real runs alike
(and for every module that writes a copy of a primary: the standby's backup, a restore).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import shlex

STDERR_TAIL_LINES = 20


class Location(object):
    """A directory a backup writes into: local or on PFS; entries are the names inside, None when missing."""

    def __init__(self, kind, path, label, entries=None):
        self.kind, self.path, self.label, self.entries = kind, path, label, entries

    def describe(self):
        where = ' on PFS' if self.kind == 'pfs' else ''
        return '%s %s%s' % (self.label, self.path, where)


class BackupFailed(Exception):
    """A backup that failed or may not run; details (the command, its rc and stderr) go to fail_json."""

    def __init__(self, msg, argv=None, rc=None, stderr=''):
        super(BackupFailed, self).__init__(msg)
        self.stderr = stderr
        self.details = dict(cmd=' '.join(shlex.quote(a) for a in argv) if argv else None, rc=rc,
                            stderr_tail='\n'.join(stderr.strip().splitlines()[-STDERR_TAIL_LINES:]))


class Refused(BackupFailed):
    """The backup may not go ahead; the message says why and what to do."""


def promotion_reason(data_dir, sysid, detail):
    return ('data_dir %s holds the primary\'s system (identifier %s) but was promoted: %s. It is no longer a '
            'copy of the primary: make this host the primary in the inventory, or rebuild it as a standby '
            '(playbooks/rebuild.yml)' % (data_dir, sysid, detail))


def running_server_refusal(pid, data_dir):
    return ('A server (pid %d, %s/postmaster.pid) runs in data_dir %s: a backup would replace its files under '
            'it. Stop it first (pg_ctl stop -D %s), even with force=true.' % (pid, data_dir, data_dir, data_dir))


def blocker(location, state):
    """Why a non-empty location may not be overwritten without force."""
    count = len(location.entries)
    listing = ', '.join(location.entries[:5])
    if location.label == 'data_dir':
        if state['promoted']:
            return state['promoted']
        if state['local_sysid'] == state['primary_sysid']:
            return ('data_dir %s holds a copy of the primary (system identifier %s) but polar_datadir %s on PFS '
                    'is missing or empty' % (location.path, state['primary_sysid'], state['polar_datadir']))
        if state['local_sysid']:
            return ('data_dir %s holds a cluster of another system (system identifier %s; the primary\'s is %s)'
                    % (location.path, state['local_sysid'], state['primary_sysid']))
        shared = state['locations'].get('polar_datadir')
        if 'PG_VERSION' in location.entries and shared is not None and not shared.entries:
            return ('data_dir %s holds %d entries (%s) but no pg_control: PolarDB keeps it in the shared data, '
                    'and polar_datadir %s on PFS is missing or empty'
                    % (location.path, count, listing, state['polar_datadir']))
    return '%s is not empty (%d entries: %s)' % (location.describe(), count, listing)


def plan_backup(locations, data_dir, primary_sysid, local_sysid, promoted=None, owned=(), force=False,
                running_pid=None, polar_datadir=None):
    """None when data_dir (and polar_datadir) already hold a copy of the primary, else the locations to clear.

    locations: label -> Location, as inspected. promoted: promotion_reason() when
    data_dir holds the primary's system but ran as a primary since. owned: paths
    an interrupted run of this module created, which it may clear without force.
    running_pid: a live server in data_dir. Raises Refused.
    """
    shared = locations.get('polar_datadir')
    promoted = promoted if data_dir not in owned else None
    if data_dir not in owned and local_sysid == primary_sysid and (shared is None or shared.entries) \
            and not promoted:
        return None
    in_the_way = [loc for loc in locations.values() if loc.entries and loc.path not in owned]
    if promoted and any(loc.label == 'data_dir' for loc in in_the_way):
        # A promoted copy holds writes no other node has: force replaces
        # another system, never a former follower of this one.
        raise Refused('Refusing to back up: %s. force does not override this: move %s aside first '
                      '(playbooks/rebuild.yml with rebuild_promoted=true keeps it).' % (promoted, data_dir))
    state = dict(promoted=promoted, local_sysid=local_sysid, primary_sysid=primary_sysid,
                 polar_datadir=polar_datadir, locations=locations)
    problems = [blocker(loc, state) for loc in in_the_way]
    if problems and not force:
        raise Refused('Refusing to back up: %s. Set force=true to clear their contents and back up%s.'
                      % ('; '.join(problems), '' if running_pid is None else
                         ', once the server running there (pid %d) is stopped (pg_ctl stop -D %s)'
                         % (running_pid, data_dir)))
    if running_pid is not None:
        raise Refused(running_server_refusal(running_pid, data_dir))
    return in_the_way
