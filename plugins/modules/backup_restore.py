#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: backup_restore
short_description: Lay out a data directory from a base backup and the WAL archive, ready to recover
version_added: 0.3.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Chooses a base backup of a repository made by M(polardb.cluster.base_backup) (I(backup), or the
    newest that finished before I(target_time) or I(target_lsn)), copies it into I(data_dir) and
    every archived WAL segment from the backup's start on into its C(pg_wal) (the segment
    pg_receivewal is still writing under its final name), and marks it for archive recovery
    (C(recovery.signal)) or, with I(signal=standby), as a standby (C(standby.signal)) that replays
    what was copied and then streams. Starting the server, the recovery target and a standby's
    connection settings are the caller's.
  - A non-empty I(data_dir) is first moved aside whole (C(DATA.old-TIME)), never removed.
  - On PolarDB (I(polar_datadir) set) the backup's shared data (C(polar_shared_data)), with the WAL in
    its C(pg_wal), is copied onto the node's PFS disk with C(pfs cp -r), as root and with the database
    stopped (writing PFS with the CLI under a running database broke a disk). Shared data already on PFS
    there is refused, not replaced (check mode reports it as I(shared_present)); the caller moves it aside.
  - Refuses, changing nothing, when the archive has a gap after the backup's start and the restore
    is to the latest point (I(target_time), I(target_lsn) and I(target_name) unset), since recovery
    would stop at the gap and call itself done.
options:
  repository:
    description: Repository directory (C(base) and C(wal) below it), on this host.
    type: path
    required: true
  data_dir:
    description: Data directory to restore into.
    type: path
    required: true
  owner:
    description: Owner (and group) of the restored files.
    type: str
    required: true
  backup:
    description: Id of the backup to start from ("" chooses, see the description).
    type: str
    default: ""
  target_time:
    description: Recovery target time with its time zone (C(2026-12-07 10:00:00+00)); chooses the backup.
    type: str
  target_lsn:
    description: Recovery target LSN; chooses the backup.
    type: str
  target_name:
    description: Name of a restore point; the oldest backup is chosen unless I(backup) names one.
    type: str
  segment_size:
    description: WAL segment size in bytes.
    type: int
    default: 16777216
  polar_datadir:
    description:
      - PolarDB only, the shared data directory on the node's PFS disk (C(/nvme2n1/shared_data/)), which
        must not exist yet.
    type: str
  pfs_cluster:
    description: PFS cluster name of I(polar_datadir)'s disk.
    type: str
    default: disk
  signal:
    description:
      - C(recovery) recovers to a target (or the end of the archive) and becomes a primary of its own;
        C(standby) follows a primary once the copied WAL is replayed, and takes no target.
    type: str
    choices: [recovery, standby]
    default: recovery
attributes:
  check_mode:
    support: full
    description: Chooses the backup and reports what would be moved aside and copied.
  diff_mode:
    support: none
    description: The restore's report (moved aside, segments copied) says what changed.
'''

EXAMPLES = r'''
- name: Lay out pb3's data directory as it was at 10:00 UTC
  polardb.cluster.backup_restore:
    repository: /var/lib/polardb-backup
    data_dir: /var/lib/polardb/nvme2n1/standby
    owner: postgres
    target_time: "2026-12-07 10:00:00+00"
'''

RETURN = r'''
backup:
  description: The backup restored from (as M(polardb.cluster.base_backup) recorded it).
  returned: always
  type: dict
moved_aside:
  description: Where the former contents of I(data_dir) were moved, or null.
  returned: always
  type: str
wal_segments:
  description: Number of archived segments copied.
  returned: always
  type: int
newest_segment:
  description: The newest segment copied (the partial one under its final name).
  returned: always
  type: str
shared_present:
  description: PolarDB, whether shared data is on PFS at I(polar_datadir) (a real run refuses it).
  returned: always
  type: bool
'''

import datetime
import os
import pwd
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.polardb.cluster.plugins.module_utils import backup_repository as repo
from ansible_collections.polardb.cluster.plugins.module_utils import wal_archive
from ansible_collections.polardb.cluster.plugins.module_utils.pfs import Pfs, PfsError

NOT_RESTORED = (repo.INFO, 'backup_manifest', 'standby.signal', 'postmaster.pid', 'postmaster.opts')


def parse_time(text):
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace('Z', '+00:00'))
    except ValueError:
        raise ValueError('target_time %r is not a time such as 2026-12-07 10:00:00+00' % text)
    if moment.tzinfo is None:
        raise ValueError('target_time %r has no time zone: add one (+00 for UTC), as PostgreSQL would '
                         'otherwise read it in the server\'s' % text)
    return moment


def own(path, uid, gid):
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)
    os.lchown(path, uid, gid)


def lay_out(backup_path, partial, archive_dir, wanted, size, shared, signal):
    """The backup and the archived WAL from its start in partial, marked with SIGNAL.signal."""
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(backup_path, partial, symlinks=True)
    for name in NOT_RESTORED:
        if os.path.lexists(os.path.join(partial, name)):
            os.unlink(os.path.join(partial, name))
    wal_dir = os.path.join(partial, repo.SHARED_DATA if shared else '', 'pg_wal')
    for segment in wanted:
        final = segment.name.replace('.partial', '')
        source = os.path.join(archive_dir, segment.name)
        if segment.partial and not os.path.exists(source):
            source = os.path.join(archive_dir, final)  # pg_receivewal completed it since it was listed
        shutil.copyfile(source, os.path.join(wal_dir, final))
    for name in wal_archive.list_archive(archive_dir, size)[1] if os.path.isdir(archive_dir) else []:
        shutil.copyfile(os.path.join(archive_dir, name), os.path.join(wal_dir, name))
    open(os.path.join(partial, signal + '.signal'), 'w').close()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repository=dict(type='path', required=True),
            data_dir=dict(type='path', required=True),
            owner=dict(type='str', required=True),
            backup=dict(type='str', default=''),
            target_time=dict(type='str'),
            target_lsn=dict(type='str'),
            target_name=dict(type='str'),
            segment_size=dict(type='int', default=16 * 1024 * 1024),
            polar_datadir=dict(type='str'),
            pfs_cluster=dict(type='str', default='disk'),
            signal=dict(type='str', choices=['recovery', 'standby'], default='recovery'),
        ),
        mutually_exclusive=[('target_time', 'target_lsn', 'target_name')],
        supports_check_mode=True,
    )
    params = module.params
    size = params['segment_size']
    data_dir = params['data_dir'].rstrip('/')
    try:
        target_time = parse_time(params['target_time']) if params['target_time'] else None
        target_lsn = wal_archive.parse_lsn(params['target_lsn']) if params['target_lsn'] else None
        backups = repo.list_backups(os.path.join(params['repository'], 'base'))[0]
        backup = repo.choose(backups, params['backup'] or (backups[0]['id'] if params['target_name'] and backups
                                                           else ''), target_time, target_lsn)
    except ValueError as error:
        module.fail_json(msg='No backup to restore from: %s. Nothing was changed.' % error)

    archive_dir = os.path.join(params['repository'], 'wal')
    segments = wal_archive.list_archive(archive_dir, size)[0] if os.path.isdir(archive_dir) else []
    first = wal_archive.parse_segment(backup['start_segment'], size)
    missing = wal_archive.gaps(segments, first.number, size, first.timeline)
    latest = not (params['target_time'] or params['target_lsn'] or params['target_name'])
    if params['signal'] == 'standby' and not latest:
        module.fail_json(msg='A standby follows its primary to the latest point: signal=standby takes no target_time, '
                             'target_lsn or target_name. Nothing was changed.')
    if missing and latest:
        module.fail_json(msg='The WAL archive misses %s after backup %s: a restore to the latest point would stop '
                             'there and call itself done. Nothing was changed. Restore to a point before it '
                             '(-e restore_target_lsn=... or restore_target_time=...), or take a new base backup '
                             '(playbooks/backup.yml) and restore from it.' % (', '.join(missing), backup['id']),
                         missing=missing, backup=backup)
    shared = (params['polar_datadir'] or '').rstrip('/')
    pfs = Pfs(module, params['pfs_cluster']) if shared else None
    shared_present = bool(shared) and pfs.exists(shared)
    if shared_present and not module.check_mode:
        module.fail_json(msg='Shared data is already on PFS at %s: a restore does not replace it. Nothing was changed. '
                             'Take the node out first (playbooks/remove.yml removes it).' % shared)
    complete = set(segment.number for segment in segments if not segment.partial)
    wanted = [segment for segment in segments if segment.number >= first.number
              and not (segment.partial and segment.number in complete)]
    occupied = os.path.isdir(data_dir) and bool(os.listdir(data_dir))
    aside = '%s.old-%s' % (data_dir, repo.utc_now().strftime('%Y%m%dT%H%M%SZ')) if occupied else None
    newest = wanted[-1].name.replace('.partial', '') if wanted else None
    result = dict(changed=True, backup=backup, moved_aside=aside, wal_segments=len(wanted),
                  shared_present=shared_present, newest_segment=newest, missing=missing)
    if module.check_mode:
        module.exit_json(**result)

    entry = pwd.getpwnam(params['owner'])
    if aside:
        os.rename(data_dir, aside)
    partial = data_dir + '.restoring'
    try:
        lay_out(backup['path'], partial, archive_dir, wanted, size, shared, params['signal'])
    except (OSError, shutil.Error) as error:
        module.fail_json(msg='Laying out the restore failed: %s. What was in %s is kept in %s; the half-made copy '
                             'in %s is removed by the next restore.' % (error, data_dir, aside or '(nothing there)',
                                                                        partial))
    own(partial, entry.pw_uid, entry.pw_gid)
    os.chmod(partial, 0o700)
    if os.path.isdir(data_dir):
        os.rmdir(data_dir)  # empty (checked above), such as a mount's folder
    if shared:
        stage = os.path.join(partial + '-shared', os.path.basename(shared))
        shutil.rmtree(os.path.dirname(stage), ignore_errors=True)
        os.makedirs(os.path.dirname(stage), 0o700)
        os.rename(os.path.join(partial, repo.SHARED_DATA), stage)
        try:
            pfs.cp_r(stage, os.path.dirname(shared) + '/')
        except PfsError as error:
            module.fail_json(msg='Copying the shared data onto PFS failed: %s. The local directory is in %s, the shared '
                                 'data in %s; remove what reached %s (pfs rm -r) before restoring again.'
                                 % (error, partial, stage, shared))
        shutil.rmtree(os.path.dirname(stage))
    os.rename(partial, data_dir)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
