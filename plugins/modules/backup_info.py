#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: backup_info
short_description: What a backup repository holds, and whether its WAL archive can be replayed
version_added: 0.3.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Lists the base backups of a repository made by M(polardb.cluster.base_backup) and the WAL
    archive kept by M(polardb.cluster.wal_receiver), and finds what would stop a restore, namely segments
    missing between the oldest backup's start and the newest segment (gaps), segments of the
    wrong size, and, with I(check_wal), the first record C(pg_waldump) cannot read.
  - Reads only; changes nothing.
options:
  repository:
    description: Repository directory (C(base) and C(wal) below it).
    type: path
    required: true
  segment_size:
    description: WAL segment size in bytes (16 MiB on PostgreSQL, 1 GiB on PolarDB).
    type: int
    default: 16777216
  bin_dir:
    description: Directory holding C(pg_waldump) (needed with I(check_wal)).
    type: path
  check_wal:
    description:
      - Read every record from the oldest backup's start to the end of the archive with
        C(pg_waldump); a record it cannot read before the newest segment names a damaged segment.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads only, in check mode as in a real run.
'''

EXAMPLES = r'''
- name: Read the repository and check the archive
  polardb.cluster.backup_info:
    repository: /var/lib/polardb-backup
    bin_dir: /usr/lib/postgresql/15/bin
    check_wal: true
  become: true
  become_user: postgres
  register: backup_state
'''

RETURN = r'''
backups:
  description: Complete base backups, oldest first, as M(polardb.cluster.base_backup) recorded them.
  returned: always
  type: list
  elements: dict
last_backup:
  description: The newest backup, with C(age_seconds), or null.
  returned: always
  type: dict
interrupted:
  description: Directories of interrupted backups (removed by the next backup).
  returned: always
  type: list
  elements: str
archive:
  description:
    - C(segments) (count), C(oldest) and C(newest) segment names, C(newest_is_partial), C(gaps)
      (names of the missing segments), C(wrong_size), C(damaged) (the segment holding the first
      unreadable record, with I(check_wal)), C(readable_to) (LSN pg_waldump read to), C(wal_checked)
      (whether it was read, which it is only while the archive holds one timeline),
      C(receiver_pid) (the pg_receivewal writing into it, or null), C(sound) (no gap, nothing damaged).
  returned: always
  type: dict
'''

import datetime
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.polardb.cluster.plugins.module_utils import backup_repository as repo
from ansible_collections.polardb.cluster.plugins.module_utils import wal_archive
from ansible_collections.polardb.cluster.plugins.module_utils.commands import run_as
from ansible_collections.polardb.cluster.plugins.module_utils.process import receivers_of

# pg_waldump's last words when it stops: "error in WAL record at 0/30000D8: invalid record length ..."
STOPPED_AT = re.compile(r'error in WAL record at ([0-9A-F]+/[0-9A-F]+)')


def age_seconds(finished_at, now=None):
    finished = datetime.datetime.strptime(finished_at, '%Y-%m-%dT%H:%M:%SZ')
    return int(((now or repo.utc_now()) - finished).total_seconds())


def readable_to(module, bin_dir, archive_dir, timeline, start_lsn):
    """The LSN pg_waldump stops at reading archive_dir from start_lsn on timeline, None if it cannot start."""
    argv, rc, out, err = run_as(module, [os.path.join(bin_dir, 'pg_waldump'), '-q', '-p', archive_dir,
                                         '-t', str(timeline), '-s', wal_archive.format_lsn(start_lsn)],
                                timeout=3600)
    found = STOPPED_AT.search(err or '')
    return wal_archive.parse_lsn(found.group(1)) if found else None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repository=dict(type='path', required=True),
            segment_size=dict(type='int', default=16 * 1024 * 1024),
            bin_dir=dict(type='path'),
            check_wal=dict(type='bool', default=False),
        ),
        required_if=[('check_wal', True, ['bin_dir'])],
        supports_check_mode=True,
    )
    size = module.params['segment_size']
    base_dir = os.path.join(module.params['repository'], 'base')
    archive_dir = os.path.join(module.params['repository'], 'wal')
    backups, interrupted, _others = repo.list_backups(base_dir)
    last = dict(backups[-1], age_seconds=age_seconds(backups[-1]['finished_at'])) if backups else None

    segments, histories, _names = (wal_archive.list_archive(archive_dir, size) if os.path.isdir(archive_dir)
                                   else ([], [], []))
    receivers = receivers_of(os.path.realpath(archive_dir))
    newest = wal_archive.newest(segments)
    first = wal_archive.parse_segment(backups[0]['start_segment'], size) if backups else None
    if first is None and segments:
        first = segments[0]
    archive = dict(segments=len(segments), histories=histories,
                   oldest=segments[0].name if segments else None,
                   newest=newest.name if newest else None,
                   newest_is_partial=bool(newest and newest.partial),
                   gaps=wal_archive.gaps(segments, first.number, size, first.timeline) if first else [],
                   wrong_size=wal_archive.wrong_size(segments, size),
                   damaged=None, readable_to=None,
                   receiver_pid=receivers[0][0] if receivers else None)
    # pg_waldump reads one timeline: after a switch it would stop at the switch, which is no damage.
    one_timeline = len(set(segment.timeline for segment in segments)) <= 1
    archive['wal_checked'] = bool(module.params['check_wal'] and backups and segments and one_timeline)
    if archive['wal_checked']:
        start = wal_archive.parse_lsn(backups[0]['start_lsn'])
        stop = readable_to(module, module.params['bin_dir'], archive_dir, backups[0]['timeline'], start)
        if stop is not None:
            archive['readable_to'] = wal_archive.format_lsn(stop)
            stop_number = wal_archive.segment_number(stop, size)
            complete = set(segment.number for segment in segments if not segment.partial)
            # pg_waldump reads no .partial file, and where the next file is missing it says "could not
            # find file", which is no stop here: a record it cannot read in a complete segment is damage.
            if stop_number in complete and stop_number not in [
                    wal_archive.parse_segment(name, size).number for name in archive['gaps']]:
                archive['damaged'] = wal_archive.segment_name(backups[0]['timeline'], stop_number, size)
    archive['sound'] = not (archive['gaps'] or archive['wrong_size'] or archive['damaged'])
    module.exit_json(changed=False, backups=backups, last_backup=last, interrupted=interrupted, archive=archive)


if __name__ == '__main__':
    main()
