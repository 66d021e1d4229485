# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A backup repository: base backups under base/, the WAL archive under wal/.

A base backup is a directory base/ID (ID the UTC time it started,
20261207T101500Z) holding pg_basebackup's plain output and backup.json, which
is written before the directory gets its final name: a directory without it,
or still named ID.partial, is not a backup. Only names of this form are ever
removed; anything else in base/ is reported and left alone.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import json
import os
import re

from ansible_collections.polardb.cluster.plugins.module_utils import wal_archive

BACKUP_ID = re.compile(r'^\d{8}T\d{6}Z$')
PARTIAL_ID = re.compile(r'^\d{8}T\d{6}Z\.partial$')
INFO = 'backup.json'
SHARED_DATA = 'polar_shared_data'  # where pg_basebackup puts PolarDB's shared data without --polardata


def new_id(now=None):
    return (now or utc_now()).strftime('%Y%m%dT%H%M%SZ')


def directory_size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def list_backups(base_dir):
    """(backups: the info of each complete backup, oldest first; partial: names of interrupted ones;
    others: names this module did not make)."""
    backups, partial, others = [], [], []
    for name in sorted(os.listdir(base_dir)) if os.path.isdir(base_dir) else []:
        path = os.path.join(base_dir, name)
        if PARTIAL_ID.match(name) and os.path.isdir(path) and not os.path.islink(path):
            partial.append(name)
        elif BACKUP_ID.match(name) and os.path.isfile(os.path.join(path, INFO)):
            with open(os.path.join(path, INFO)) as handle:
                info = json.load(handle)
            info['path'] = path
            backups.append(info)
        else:
            others.append(name)
    return backups, partial, others


def to_remove(backups, keep):
    """The backups past the newest keep."""
    return backups[:-keep] if keep > 0 and len(backups) > keep else []


def read_manifest(path):
    with open(os.path.join(path, 'backup_manifest')) as handle:
        return json.load(handle)


def wal_range(manifest):
    """(timeline, start LSN, end LSN) of the WAL a backup needs to be consistent."""
    ranges = manifest.get('WAL-Ranges') or []
    if not ranges:
        raise ValueError('the backup manifest names no WAL range')
    last = ranges[-1]
    return (int(last['Timeline']), wal_archive.parse_lsn(ranges[0]['Start-LSN']),
            wal_archive.parse_lsn(last['End-LSN']))


def _digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def manifest_problems(path, segment_size):
    """What is wrong with a plain PolarDB backup against its manifest, as sentences ([] when sound).

    pg_verifybackup cannot check one: the manifest names the local and the shared
    files under the same relative paths (pg_xact/0000 in both). A file counts when
    one of its two places holds it with the listed size and SHA-256 checksum.
    """
    manifest = read_manifest(path)
    problems = []
    for entry in manifest.get('Files', []):
        candidates = [os.path.join(path, entry['Path']), os.path.join(path, SHARED_DATA, entry['Path'])]
        found = [candidate for candidate in candidates if os.path.isfile(candidate)]
        if not found:
            problems.append('%s is missing' % entry['Path'])
            continue
        algorithm = entry.get('Checksum-Algorithm', 'NONE').lower().replace('-', '')
        sound = False
        for candidate in found:
            if os.path.getsize(candidate) != entry['Size']:
                continue
            if algorithm in ('sha224', 'sha256', 'sha384', 'sha512'):
                if _digest(candidate, algorithm) != entry['Checksum']:
                    continue
            sound = True
        if not sound:
            problems.append('%s does not match the manifest (size or checksum)' % entry['Path'])
    timeline, start, end = wal_range(manifest)
    for number in range(wal_archive.segment_number(start, segment_size),
                        wal_archive.segment_number(end, segment_size) + 1):
        name = wal_archive.segment_name(timeline, number, segment_size)
        places = [os.path.join(path, 'pg_wal', name), os.path.join(path, SHARED_DATA, 'pg_wal', name)]
        if not any(os.path.isfile(place) and os.path.getsize(place) == segment_size for place in places):
            problems.append('WAL segment %s, needed from %s to %s, is missing or cut short'
                            % (name, wal_archive.format_lsn(start), wal_archive.format_lsn(end)))
    return problems


def choose(backups, backup_id='', target_time=None, target_lsn=None):
    """The backup a restore starts from: backup_id if given, else the newest that ended before the
    target (target_time: an aware datetime; target_lsn: an integer), else the newest.

    Raises ValueError when none fits, saying why.
    """
    if not backups:
        raise ValueError('the repository holds no complete base backup')
    if backup_id:
        found = [backup for backup in backups if backup['id'] == backup_id]
        if not found:
            raise ValueError('there is no backup %s (there are: %s)'
                             % (backup_id, ', '.join(backup['id'] for backup in backups)))
        return found[0]
    fitting = backups
    if target_time is not None:
        fitting = [backup for backup in backups
                   if finished_at(backup) <= target_time.astimezone(UTC).replace(tzinfo=None)]
        if not fitting:
            raise ValueError('every backup finished after %s (the oldest at %s UTC): a restore cannot go back '
                             'before its backup' % (target_time.isoformat(), backups[0]['finished_at']))
    if target_lsn is not None:
        fitting = [backup for backup in fitting if wal_archive.parse_lsn(backup['end_lsn']) <= target_lsn]
        if not fitting:
            raise ValueError('every backup ends after %s (the oldest at %s)'
                             % (wal_archive.format_lsn(target_lsn), backups[0]['end_lsn']))
    return fitting[-1]


UTC = datetime.timezone.utc


def utc_now():
    """Now in UTC, without a time zone, as the repository's times are written."""
    return datetime.datetime.now(UTC).replace(tzinfo=None)


def finished_at(backup):
    return datetime.datetime.strptime(backup['finished_at'], '%Y-%m-%dT%H:%M:%SZ')
