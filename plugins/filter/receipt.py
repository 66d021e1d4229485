# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The receipt of a promotion or switchover: how long until the new primary took a write,
how long clients could not write, and how much WAL of the old primary it lacks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: receipt
version_added: 0.3.0
author: polardb.cluster contributors (@polardb-cluster)
short_description: The receipt of a promotion or switchover
description:
  - Turns what a promotion or switchover measured into its receipt, with the one line the
    playbooks print.
  - C(seconds_to_writable) runs from the start of the operation to the first write the new primary
    accepted (a transaction id it assigned and committed), both read on the controller's clock.
  - C(write_gap_seconds) runs to that first write from when this run stopped the old primary (its
    fast shutdown ends every session), or, when it did not stop it, from the last commit the new
    primary replayed from it (the servers' clocks).
  - C(bytes_lost) is how far the old primary's WAL went past the point where the new primary's
    timeline began; C(null), with C(bytes_lost_unknown) saying why, when where the old primary's WAL
    ends could not be read. Transactions are not counted (C(transactions_lost) is C(null)).
positional: _input
options:
  _input:
    description: >-
      What was measured: C(operation), C(host), C(old_primary), C(started), C(writable) and C(fenced)
      (controller times, seconds since the epoch; C(fenced) null when this run did not stop the old
      primary), C(since_last_commit) (seconds, or null), C(timeline), C(switch_lsn) (null when unknown), C(first_xid),
      C(old_end_lsn) (null when unknown) and C(old_end_unknown) (why it is unknown). A switchover adds
      C(rejoined) once the other hosts follow the new primary: for each host, C(method) (C(streaming):
      it streamed already; C(restart): it followed as it was; C(rewind): C(pg_rewind); C(reseed): a fresh
      copy), C(seconds), C(kept_in) (where its old directory was kept, or null), C(aside_seconds) (how
      many of those seconds copying it aside took) and C(rewind_failed) (why
      C(pg_rewind) did not bring it back, or null).
    type: dict
    required: true
'''

EXAMPLES = r'''
receipt: >-
  {{ {'operation': 'promote', 'host': 'pb3', 'old_primary': 'pb1', 'started': 1765100000.0,
      'writable': 1765100012.4, 'fenced': 1765100000.5, 'since_last_commit': 11.8, 'timeline': 2,
      'switch_lsn': '0/5000118', 'first_xid': '812', 'old_end_lsn': '0/50000A0', 'old_end_unknown': ''}
     | polardb.cluster.receipt }}
'''

RETURN = r'''
_value:
  description: >-
    C(operation), C(host), C(old_primary), C(at) (when the first write was accepted, UTC),
    C(seconds_to_writable), C(write_gap_seconds), C(write_gap_from), C(timeline), C(switch_lsn),
    C(first_xid), C(old_primary_end_lsn), C(bytes_lost), C(bytes_lost_unknown), C(transactions_lost),
    C(rejoined) (as given, when given) and C(line), the sentence the playbooks print.
  type: dict
'''

import datetime

from ansible.errors import AnsibleFilterError
from ansible_collections.polardb.cluster.plugins.filter.lifecycle import lsn_value, rejoined_line

REQUIRED = ('operation', 'host', 'old_primary', 'started', 'writable', 'timeline', 'first_xid')


def _seconds(value):
    return None if value is None or value == '' else round(float(value), 2)


def receipt(measured):
    if not isinstance(measured, dict):
        raise AnsibleFilterError('receipt expects a dict of what was measured, got %r' % (measured,))
    missing = [name for name in REQUIRED if measured.get(name) in (None, '')]
    if missing:
        raise AnsibleFilterError('receipt lacks %s' % ', '.join(missing))
    host, old = measured['host'], measured['old_primary']
    started, writable = float(measured['started']), float(measured['writable'])
    fenced = measured.get('fenced')
    if fenced not in (None, ''):
        gap, gap_from = writable - float(fenced), 'when this run stopped %s' % old
    elif measured.get('since_last_commit') not in (None, ''):
        gap, gap_from = float(measured['since_last_commit']), 'the last commit %s replayed from %s' % (host, old)
    else:
        gap, gap_from = None, '%s replayed no commit from %s' % (host, old)

    old_end, switch = measured.get('old_end_lsn') or None, measured.get('switch_lsn') or None
    lost, unknown = None, None
    if not old_end:
        unknown = measured.get('old_end_unknown') or 'where the WAL of %s ends was not read' % old
    elif not switch:
        unknown = '%s did not say where its timeline began (pg_last_wal_replay_lsn)' % host
    else:
        lost = max(0, lsn_value(old_end) - lsn_value(switch))

    done = dict(
        operation=measured['operation'], host=host, old_primary=old,
        at=datetime.datetime.fromtimestamp(writable, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        seconds_to_writable=_seconds(writable - started), write_gap_seconds=_seconds(gap), write_gap_from=gap_from,
        timeline=int(measured['timeline']), switch_lsn=switch, first_xid=str(measured['first_xid']),
        old_primary_end_lsn=old_end, bytes_lost=lost, bytes_lost_unknown=unknown, transactions_lost=None)

    if lost is None:
        loss = 'bytes lost unknown: %s' % unknown
    else:
        loss = '%d bytes lost: the WAL of %s ended at %s, timeline %d began at %s' % (
            lost, old, old_end, done['timeline'], done['switch_lsn'])
    gap_text = ('write gap %.2f s from %s' % (done['write_gap_seconds'], gap_from) if gap is not None
                else 'write gap unknown: %s' % gap_from)
    done['line'] = '%s of %s (from %s): writable after %.2f s; %s; %s.' % (
        done['operation'], host, old, done['seconds_to_writable'], gap_text, loss)
    if measured.get('rejoined'):
        done['rejoined'] = measured['rejoined']
        done['line'] += ' ' + rejoined_line(measured['rejoined'])
    return done


class FilterModule(object):
    def filters(self):
        return {'receipt': receipt}
