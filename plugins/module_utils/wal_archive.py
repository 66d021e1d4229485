# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A WAL archive kept by pg_receivewal, and the LSN arithmetic that reads it.

The archive is a directory of segment files named TTTTTTTTXXXXXXXXYYYYYYYY
(timeline, then the segment number split in two), timeline history files
TTTTTTTT.history, and at most one SEGMENT.partial: the segment pg_receivewal
is writing. A gap is a segment number between the first one wanted and the
newest one held that no file of any timeline covers: a restore or a standby
replaying from the archive would stop there.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
from collections import namedtuple

SEGMENT_NAME = re.compile(r'^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial)?$')
HISTORY_NAME = re.compile(r'^[0-9A-F]{8}\.history$')
LSN = re.compile(r'^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$')

Segment = namedtuple('Segment', 'name timeline number size partial')


def parse_lsn(text):
    """'16/B374D848' as an integer; ValueError for anything else."""
    match = LSN.match(str(text).strip())
    if not match:
        raise ValueError('%r is not an LSN such as 0/3000060' % (text,))
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value):
    return '%X/%X' % (value >> 32, value & 0xFFFFFFFF)


def segments_per_id(segment_size):
    return 0x100000000 // segment_size


def segment_number(lsn, segment_size):
    """The number of the segment holding the byte at lsn."""
    return lsn // segment_size


def segment_name(timeline, number, segment_size):
    per_id = segments_per_id(segment_size)
    return '%08X%08X%08X' % (timeline, number // per_id, number % per_id)


def parse_segment(name, segment_size, size=None):
    """A Segment for a segment file's name, None for any other name."""
    match = SEGMENT_NAME.match(name)
    if not match:
        return None
    number = int(match.group(2), 16) * segments_per_id(segment_size) + int(match.group(3), 16)
    return Segment(name, int(match.group(1), 16), number, size, bool(match.group(4)))


def list_archive(directory, segment_size):
    """(segments sorted by number then timeline, history file names, other names) of directory."""
    segments, histories, others = [], [], []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if HISTORY_NAME.match(name):
            histories.append(name)
            continue
        segment = parse_segment(name, segment_size, os.lstat(path).st_size) if os.path.isfile(path) else None
        if segment is None:
            others.append(name)
        else:
            segments.append(segment)
    segments.sort(key=lambda segment: (segment.number, segment.timeline, segment.partial))
    return segments, histories, others


def wrong_size(segments, segment_size):
    """Complete segments whose size is not a segment's: cut short or padded, not WAL to replay."""
    return [segment.name for segment in segments if not segment.partial and segment.size != segment_size]


def gaps(segments, first_number, segment_size, timeline=1):
    """Names (on the timeline of the file before each) of the segments from first_number to the
    newest held that no file covers. A partial segment covers its number only as the newest."""
    complete = set(segment.number for segment in segments if not segment.partial)
    newest = max([segment.number for segment in segments] or [first_number - 1])
    missing = []
    by_number = {}
    for segment in segments:
        by_number.setdefault(segment.number, segment)
    for number in range(first_number, newest + 1):
        held = by_number.get(number)
        if held is not None:
            timeline = held.timeline
        if number in complete or (held is not None and held.partial and number == newest):
            continue
        missing.append(segment_name(timeline, number, segment_size))
    return missing


def newest(segments):
    """The newest segment held (the partial one while pg_receivewal writes it), or None."""
    return segments[-1] if segments else None


def older_than(segments, first_number):
    """Complete segments a restore from a backup starting in segment first_number never reads."""
    return [segment for segment in segments if segment.number < first_number and not segment.partial]
