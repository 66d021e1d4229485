# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the lifecycle guards decide from: a server's control data, and whether a
stopped server can follow an upstream or diverged from it; and the sentence
saying how each host came back.

Every verdict comes from what the servers wrote (pg_controldata, the upstream's
timeline history, the WAL records on disk); anything that cannot be read is
"unknown", never taken for divergence or for a follower.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

CONTROL_FIELDS = {
    'state': r'^Database cluster state:\s+(.+)$',
    'system_identifier': r'^Database system identifier:\s+(\d+)$',
    'timeline': r"^Latest checkpoint's TimeLineID:\s+(\d+)$",
    'checkpoint_lsn': r'^Latest checkpoint location:\s+([0-9A-Fa-f]+/[0-9A-Fa-f]+)$',
    'min_recovery_lsn': r'^Minimum recovery ending location:\s+([0-9A-Fa-f]+/[0-9A-Fa-f]+)$',
}
# States pg_control holds while a server runs as a primary or after it stopped as one.
PRIMARY_STATES = ('in production', 'shut down')
# The signal files a follower's data directory carries (PolarDB replicas: replica.signal).
FOLLOWER_MARKS = ('standby.signal', 'replica.signal', 'backup_label')
WALDUMP_RECORD = re.compile(r'\blsn: ([0-9A-Fa-f]+/[0-9A-Fa-f]+),')


def lsn_value(lsn):
    """A WAL position 'X/Y' as a number, for comparisons."""
    if not isinstance(lsn, str) or not re.match(r'^[0-9A-Fa-f]+/[0-9A-Fa-f]+$', lsn.strip()):
        raise AnsibleFilterError('not a WAL position: %r' % (lsn,))
    high, low = lsn.strip().split('/')
    return (int(high, 16) << 32) + int(low, 16)


def controldata(text, marks=None):
    """pg_controldata's output (LC_ALL=C) as a dict; ran_as_primary when pg_control says a
    primary ran or stopped there and no follower mark (in marks, the file names found) says otherwise."""
    if not isinstance(text, str):
        raise AnsibleFilterError('controldata expects the text pg_controldata printed, got %r' % (text,))
    found = {}
    for name, pattern in CONTROL_FIELDS.items():
        match = re.search(pattern, text, re.MULTILINE)
        found[name] = match.group(1).strip() if match else None
    found['readable'] = found['state'] is not None and found['timeline'] is not None
    if found['timeline'] is not None:
        found['timeline'] = int(found['timeline'])
    marked = [name for name in (marks or []) if name in FOLLOWER_MARKS]
    found['ran_as_primary'] = found['state'] in PRIMARY_STATES and not marked
    return found


def waldump_last_lsn(text):
    """The start of the last WAL record pg_waldump printed, or None when it printed none."""
    records = WALDUMP_RECORD.findall(text or '')
    return records[-1] if records else None


def timeline_history(text):
    """A timeline history file ('TLI<tab>SWITCHPOINT<tab>reason' lines) as {tli: switchpoint}."""
    history = {}
    for line in (text or '').splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit() and re.match(r'^[0-9A-Fa-f]+/[0-9A-Fa-f]+$', fields[1]):
            history[int(fields[0])] = fields[1]
    return history


def follow_verdict(local, upstream):
    """Whether a stopped server (local) can stream from a running primary (upstream).

    local: system_identifier, timeline, last_lsn (start of its last WAL record, None if unknown).
    upstream: system_identifier, timeline, current_lsn, history (text of its timeline history file).
    Returns verdict (follows, diverged, ahead, other_system, unknown), the switch point and, when
    diverged, the bytes of WAL the local server holds past it, with a sentence saying why.
    """
    result = dict(verdict='unknown', switchpoint=None, bytes_past=None, reason='')
    if not local.get('system_identifier') or local.get('timeline') is None:
        result['reason'] = 'its pg_control could not be read'
        return result
    if str(local['system_identifier']) != str(upstream['system_identifier']):
        result.update(verdict='other_system', reason='it holds another system (identifier %s; the upstream\'s is %s)'
                      % (local['system_identifier'], upstream['system_identifier']))
        return result
    last, tli, upstream_tli = local.get('last_lsn'), int(local['timeline']), int(upstream['timeline'])
    if last is None:
        result['reason'] = 'the end of its WAL on timeline %d could not be read' % tli
        return result
    if tli == upstream_tli:
        if lsn_value(last) > lsn_value(upstream['current_lsn']):
            result.update(verdict='ahead', reason='its WAL on timeline %d reaches %s, past the upstream\'s %s'
                          % (tli, last, upstream['current_lsn']))
        else:
            result.update(verdict='follows', reason='it is on the upstream\'s timeline %d' % tli)
        return result
    history = timeline_history(upstream.get('history'))
    if tli in history:
        switchpoint = history[tli]
        result['switchpoint'] = switchpoint
        if lsn_value(last) >= lsn_value(switchpoint):
            result.update(verdict='diverged', bytes_past=lsn_value(last) - lsn_value(switchpoint),
                          reason='its WAL on timeline %d goes on to %s, past %s where the upstream left timeline %d'
                          % (tli, last, switchpoint, tli))
        else:
            result.update(verdict='follows', reason='its WAL on timeline %d ends at %s, before %s where the upstream '
                          'left it' % (tli, last, switchpoint))
        return result
    if tli > upstream_tli:
        result.update(verdict='diverged', bytes_past=None,
                      reason='it is on timeline %d, which the upstream (timeline %d) never had' % (tli, upstream_tli))
        return result
    result['reason'] = ('it is on timeline %d, which the upstream\'s history (timeline %d) does not name'
                        % (tli, upstream_tli))
    return result


REJOINED = {'streaming': 'streamed already', 'restart': 'followed as it was',
            'rewind': 'rewound (pg_rewind)', 'reseed': 'copied again'}


def rejoined_line(rejoined):
    """One sentence: how each host rejoined (switchover.yml's rejoin results, keyed by host)."""
    if not isinstance(rejoined, dict) or not rejoined:
        raise AnsibleFilterError('rejoined_line expects a dict of how each host rejoined, got %r' % (rejoined,))
    parts = []
    for host in sorted(rejoined):
        how = rejoined[host] or {}
        method = how.get('method')
        if method not in REJOINED:
            raise AnsibleFilterError('rejoined names for %s the method %r, not one of %s'
                                     % (host, method, ', '.join(sorted(REJOINED))))
        text = '%s %s' % (host, REJOINED[method])
        if method != 'streaming':
            text += ' in %.2f s' % float(how.get('seconds') or 0)
        if how.get('rewind_failed'):
            text += ' (pg_rewind did not bring it back: %s)' % how['rewind_failed']
        if how.get('kept_in'):
            text += ', its old directory kept in %s' % how['kept_in']
            if float(how.get('aside_seconds') or 0) > 0:
                text += ' (copied there in %.2f s)' % float(how['aside_seconds'])
        parts.append(text)
    return 'Rejoined: %s.' % '; '.join(parts)


class FilterModule(object):
    def filters(self):
        return {
            'controldata': controldata,
            'waldump_last_lsn': waldump_last_lsn,
            'follow_verdict': follow_verdict,
            'rejoined_line': rejoined_line,
        }
