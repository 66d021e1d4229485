"""Read the transcripts of the real tools in tests/unit/recordings (format in
its README.md) and normalise their variable parts for comparisons.

    runs = load('pfsd.txt')                       # every block, in order
    run = find('pfsd.txt', 'cat /var/run/pfsd/pfsd_nvme2n1.pid', nth=1)
    run.command, run.stdout, run.stderr, run.rc, run.notes
    normalise(text)                               # timestamps, pids, inodes, LSNs -> placeholders
"""
import os
import re
from collections import namedtuple

RECORDINGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'recordings')

Run = namedtuple('Run', 'command stdout stderr rc notes line')

_STREAM = re.compile(r'^\[(stdout|stderr)( noeol)?\]$')
_EXIT = re.compile(r'^\[exit (-?\d+)\]$')


class FormatError(Exception):
    pass


def load(name):
    """The blocks of one transcript, as Runs."""
    with open(os.path.join(RECORDINGS, name)) as handle:
        lines = handle.read().split('\n')
    runs, notes, index = [], [], 0
    while index < len(lines):
        line = lines[index]
        if line.startswith('#'):
            notes.append(line[1:].strip())
            index += 1
            continue
        if not line.startswith('$ '):
            if line.strip():
                raise FormatError('%s:%d: text outside a block: %r' % (name, index + 1, line))
            index += 1
            continue
        start, command, streams = index + 1, line[2:], {}
        index += 1
        for expected in ('stdout', 'stderr'):
            match = _STREAM.match(lines[index]) if index < len(lines) else None
            if not match or match.group(1) != expected:
                raise FormatError('%s:%d: expected [%s]' % (name, index + 1, expected))
            index += 1
            body = []
            while index < len(lines) and not _STREAM.match(lines[index]) and not _EXIT.match(lines[index]):
                body.append(lines[index])
                index += 1
            text = '\n'.join(body)
            streams[expected] = text if match.group(2) else (text + '\n' if body else '')
        match = _EXIT.match(lines[index]) if index < len(lines) else None
        if not match:
            raise FormatError('%s:%d: expected [exit N]' % (name, index + 1))
        index += 1
        runs.append(Run(command, streams['stdout'], streams['stderr'], int(match.group(1)), tuple(notes), start))
        notes = []
    return runs


def find(name, command, nth=0):
    """The nth run (0-based) of exactly this command line in a transcript."""
    matches = [run for run in load(name) if run.command == command]
    if len(matches) <= nth:
        raise LookupError('%s holds %d runs of %r, not %d' % (name, len(matches), command, nth + 1))
    return matches[nth]


_MONTH_DAY_TIME = r'[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d'
_RULES = [
    # PFS trace: [PFS_LOG] Nov 25 13:49:53.517351 INF [82] ...
    (re.compile(r'\[PFS_LOG\] %s\.\d+ (\w+) \[\d+\]' % _MONTH_DAY_TIME), r'[PFS_LOG] <TIME> \1 [<PID>]'),
    # pfsd client library: [PFSD_SDK INF Nov 25 14:03:21.900142][1123]
    (re.compile(r'\[PFSD_SDK (\w+) %s\.\d+\]\[\d+\]' % _MONTH_DAY_TIME), r'[PFSD_SDK \1 <TIME>][<PID>]'),
    # pfsd's own log: 2026-11-25 14:01:13.368366|INFO |
    (re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\|', re.M), '<TIME>|'),
    # ls/stat dates and build dates: Wed Nov 25 13:49:53 2026, Wed Nov 25 13:35:04 UTC 2026
    (re.compile(r'\b[A-Z][a-z]{2} %s (?:UTC )?\d{4}\b' % _MONTH_DAY_TIME), '<DATE>'),
    (re.compile(r'^(modify|change): \d+,', re.M), r'\1: <EPOCH>,'),
    (re.compile(r'\binode: \d+'), 'inode: <INO>'),
    (re.compile(r'pfsd\[\d+\]'), 'pfsd[<PID>]'),
    (re.compile(r'pg_basebackup_\d+'), 'pg_basebackup_<PID>'),
    (re.compile(r'(/var/run/pfsd//?[\w.]+/)\d+\.pid'), r'\1<PID>.pid'),
    (re.compile(r'with inode \d+, fd \d+'), 'with inode <INO>, fd <FD>'),
    # WAL positions such as 0/40AC0F20 (not parts of paths such as base/1/1249)
    (re.compile(r'(?<![/\w])[0-9A-F]{1,8}/[0-9A-F]{1,8}(?![/\w])'), '<LSN>'),
]
# One 'pid: N, caller: CMDLINE' line per ancestor process: their number depends on who ran the tool.
_CALLERS = re.compile(r'^(\[PFS_LOG\] <TIME> INF \[<PID>\] )pid: \d+, caller: .*$(?:\n\1pid: \d+, caller: .*$)*',
                      re.M)


def normalise(text, replacements=()):
    """text with its variable parts replaced by placeholders.

    replacements: (old, new) pairs applied first, for paths that differ
    between the recording and the test (such as a tmp directory).
    """
    for old, new in replacements:
        text = text.replace(old, new)
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return _CALLERS.sub(r'\1pid: <PID>, caller: <CALLER>', text)
