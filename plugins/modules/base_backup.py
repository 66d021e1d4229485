#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: base_backup
short_description: Take, verify and retain base backups in a backup repository
version_added: 0.3.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Takes a base backup of the primary with C(pg_basebackup) (plain format, its own WAL streamed
    with it, manifest checksums CRC-32C on PostgreSQL, as pg_basebackup's default, and SHA-256 on
    PolarDB, which this module checks itself) into I(repository)C(/base/ID.partial), verifies it, writes
    C(backup.json) and only then names it C(ID) (the UTC time it started, C(20261207T101500Z)).
  - Verification is C(pg_verifybackup) on PostgreSQL. On PolarDB, where pg_verifybackup rejects
    every backup (its manifest names local and shared files under the same paths), each file is
    checked against the manifest's size and checksum in either place, and the backup's WAL segments
    must be whole.
  - Removes what an interrupted run left (C(ID.partial) directories), keeps the newest I(keep)
    backups, and removes from I(archive_dir) the complete WAL segments older than the oldest backup
    kept. Names this module does not make are reported and never touched.
options:
  repository:
    description: Repository directory; base backups go to its C(base) subdirectory.
    type: path
    required: true
  archive_dir:
    description: WAL archive to trim to what the kept backups need ("" trims nothing).
    type: path
    default: ""
  conninfo:
    description: libpq connection string to the primary with a replication user, no password.
    type: str
    required: true
  bin_dir:
    description: Directory holding C(pg_basebackup) and C(pg_verifybackup).
    type: path
    required: true
  engine:
    description: How the backup is verified (see the description).
    type: str
    choices: [postgresql, polardb]
    default: postgresql
  keep:
    description: Base backups kept, the newest ones (at least 1).
    type: int
    default: 2
  max_age:
    description:
      - Take a new backup only when the newest one is older than this many seconds; C(0) always
        takes one.
    type: int
    default: 0
  segment_size:
    description: WAL segment size in bytes (16 MiB on PostgreSQL, 1 GiB on PolarDB).
    type: int
    default: 16777216
  timeout:
    description: Seconds pg_basebackup may take before it is stopped (the backup then does not count).
    type: int
    default: 3600
  max_rate:
    description: Largest transfer rate (C(--max-rate)), such as C(20M); "" for no limit.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: Lists the repository and reports what would be taken and removed.
  diff_mode:
    support: full
    description: Shows the backup ids before and after.
'''

EXAMPLES = r'''
- name: A verified base backup of pb1, keeping three
  polardb.cluster.base_backup:
    repository: /var/lib/polardb-backup
    archive_dir: /var/lib/polardb-backup/wal
    conninfo: host=pb1 user=replicator passfile=/var/lib/postgresql/.pgpass.pb3
    bin_dir: /usr/lib/postgresql/15/bin
    keep: 3
  become: true
  become_user: postgres
'''

RETURN = r'''
backup:
  description: The backup taken (C(id), C(start_lsn), C(end_lsn), C(timeline), C(started_at), C(finished_at),
    C(size_bytes), C(seconds), C(verified_with)), or null when none was.
  returned: always
  type: dict
backups:
  description: Every complete backup kept, oldest first.
  returned: always
  type: list
  elements: dict
removed:
  description: Ids of the backups removed by retention.
  returned: always
  type: list
  elements: str
removed_partial:
  description: Directories of interrupted runs removed.
  returned: always
  type: list
  elements: str
removed_wal:
  description: WAL segments removed from the archive.
  returned: always
  type: list
  elements: str
'''

import datetime
import json
import os
import shutil
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.polardb.cluster.plugins.module_utils import backup_repository as repo
from ansible_collections.polardb.cluster.plugins.module_utils import wal_archive
from ansible_collections.polardb.cluster.plugins.module_utils.commands import run_as, TIMED_OUT


# pg_verifybackup checks CRC-32C at several times the speed of SHA-256; the
# manifest check written for PolarDB uses hashlib, which has no CRC-32C.
MANIFEST_CHECKSUMS = dict(postgresql='CRC32C', polardb='SHA256')


def utc_now():
    return repo.utc_now().replace(microsecond=0)


def utc_now_rounded_up():
    """Now, to the next whole second: a backup that finished at 10:00:00.7 has not finished by 10:00:00."""
    now = repo.utc_now()
    return now.replace(microsecond=0) + datetime.timedelta(seconds=1 if now.microsecond else 0)


class BaseBackup(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.base_dir = os.path.join(self.params['repository'], 'base')
        self.result = dict(changed=False, backup=None, removed=[], removed_partial=[], removed_wal=[])

    def tool(self, name):
        return os.path.join(self.params['bin_dir'], name)

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, **dict(self.result, **extra))

    def due(self, backups):
        if not backups or self.params['max_age'] <= 0:
            return True
        finished = datetime.datetime.strptime(backups[-1]['finished_at'], '%Y-%m-%dT%H:%M:%SZ')
        return (utc_now() - finished).total_seconds() >= self.params['max_age']

    def take(self, backup_id):
        partial = os.path.join(self.base_dir, backup_id + '.partial')
        started = utc_now()
        argv = [self.tool('pg_basebackup'), '-D', partial, '-Fp', '-X', 'stream', '-c', 'fast',
                '--manifest-checksums=%s' % MANIFEST_CHECKSUMS[self.params['engine']], '-w', '-d',
                self.params['conninfo'],
                '-l', 'polardb.cluster %s' % backup_id]
        if self.params['max_rate']:
            argv += ['--max-rate', self.params['max_rate']]
        clock = time.time()
        argv, rc, out, err = run_as(self.module, argv, timeout=self.params['timeout'])
        if rc != 0:
            self.discard(partial)
            why = 'it ran longer than %d s' % self.params['timeout'] if rc == TIMED_OUT else err.strip()
            self.fail('pg_basebackup failed (exit code %d): %s. Nothing counts as a backup; the half-written '
                      'directory was removed.' % (rc, why), stderr=err, cmd=argv)
        problems = self.verify(partial)
        if problems:
            self.discard(partial)
            self.fail('The base backup %s failed its verification and was removed: %s.'
                      % (backup_id, '; '.join(problems[:10])), problems=problems)
        timeline, start, end = repo.wal_range(repo.read_manifest(partial))
        info = dict(id=backup_id, started_at=started.strftime('%Y-%m-%dT%H:%M:%SZ'),
                    finished_at=utc_now_rounded_up().strftime('%Y-%m-%dT%H:%M:%SZ'), timeline=timeline,
                    start_lsn=wal_archive.format_lsn(start), end_lsn=wal_archive.format_lsn(end),
                    start_segment=wal_archive.segment_name(
                        timeline, wal_archive.segment_number(start, self.params['segment_size']),
                        self.params['segment_size']),
                    size_bytes=repo.directory_size(partial), seconds=round(time.time() - clock, 1),
                    engine=self.params['engine'],
                    verified_with='pg_verifybackup' if self.params['engine'] == 'postgresql' else 'manifest')
        with open(os.path.join(partial, repo.INFO), 'w') as handle:
            json.dump(info, handle, indent=1, sort_keys=True)
        os.rename(partial, os.path.join(self.base_dir, backup_id))
        info['path'] = os.path.join(self.base_dir, backup_id)
        return info

    def free_id(self):
        """A new backup's id: the time it starts, to the second, not yet taken by another."""
        while True:
            backup_id = repo.new_id()
            if not any(os.path.lexists(os.path.join(self.base_dir, name)) for name in (backup_id, backup_id + '.partial')):
                return backup_id
            time.sleep(0.25)

    def verify(self, path):
        if self.params['engine'] == 'polardb':
            return repo.manifest_problems(path, self.params['segment_size'])
        argv, rc, out, err = run_as(self.module, [self.tool('pg_verifybackup'), '-q', path],
                                    timeout=self.params['timeout'])
        if rc == 0:
            return []
        return [line for line in (err or out).strip().splitlines() if line] or ['exit code %d' % rc]

    def discard(self, path):
        shutil.rmtree(path, ignore_errors=True)

    def trim_archive(self, kept):
        archive = self.params['archive_dir']
        if not archive or not kept or not os.path.isdir(archive):
            return []
        size = self.params['segment_size']
        oldest = wal_archive.parse_segment(kept[0]['start_segment'], size)
        segments = wal_archive.list_archive(archive, size)[0]
        return [segment.name for segment in wal_archive.older_than(segments, oldest.number)]

    def run(self):
        if self.params['keep'] < 1:
            self.fail('keep is %d: at least one base backup must be kept.' % self.params['keep'])
        if not os.path.isdir(self.base_dir):
            self.fail('%s does not exist: create the repository (owned by the user this module runs as) '
                      'first.' % self.base_dir)
        backups, partial, others = repo.list_backups(self.base_dir)
        before = [backup['id'] for backup in backups]
        self.result['removed_partial'] = partial
        if others:
            self.module.warn('%s holds %s, which this module did not make: left as it is.'
                             % (self.base_dir, ', '.join(others)))
        take = self.due(backups)
        if not self.module.check_mode:
            for name in partial:
                self.discard(os.path.join(self.base_dir, name))
            if take:
                self.result['backup'] = self.take(self.free_id())
                backups.append(self.result['backup'])
        elif take:
            backups.append(dict(id='(new)'))
        removed = repo.to_remove(backups, self.params['keep'])
        kept = backups[len(removed):]
        self.result['removed'] = [backup['id'] for backup in removed]
        if not self.module.check_mode:
            for backup in removed:
                self.discard(backup['path'])
        self.result['removed_wal'] = self.trim_archive([backup for backup in kept if 'start_segment' in backup])
        if not self.module.check_mode:
            for name in self.result['removed_wal']:
                os.unlink(os.path.join(self.params['archive_dir'], name))
        self.result['backups'] = [backup for backup in kept if 'start_segment' in backup]
        self.result['changed'] = bool(take or partial or removed or self.result['removed_wal'])
        self.result['diff'] = dict(before={'backups': before}, after={'backups': [b['id'] for b in kept]})
        self.module.exit_json(**self.result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repository=dict(type='path', required=True),
            archive_dir=dict(type='path', default=''),
            conninfo=dict(type='str', required=True),
            bin_dir=dict(type='path', required=True),
            engine=dict(type='str', choices=['postgresql', 'polardb'], default='postgresql'),
            keep=dict(type='int', default=2),
            max_age=dict(type='int', default=0),
            segment_size=dict(type='int', default=16 * 1024 * 1024),
            timeout=dict(type='int', default=3600),
            max_rate=dict(type='str', default=''),
        ),
        supports_check_mode=True,
    )
    BaseBackup(module).run()


if __name__ == '__main__':
    main()
