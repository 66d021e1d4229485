#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: polar_basebackup
short_description: Take a base backup of a PolarDB / PostgreSQL primary onto this host
version_added: 0.1.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Copies the primary's data into I(data_dir) (and, for PolarDB, its shared data
    into I(polar_datadir) on this host's PFS disk) with C(polar_basebackup) or
    C(pg_basebackup), ready to start as a standby.
  - Up to date when I(data_dir) already holds a cluster whose system identifier
    (C(pg_controldata)) is the primary's (C(IDENTIFY_SYSTEM)); then only
    C(standby.signal) is ensured.
  - Anything else in I(data_dir), I(polar_datadir) or the staging copy is refused
    unless I(force=true), which clears only the contents of those directories.
  - Before writing, the module records what it creates in
    C(PARENT/.BASENAME.polar_basebackup.json) beside I(data_dir). A run that finds
    this file knows a previous run died half-way, removes those leftovers (only
    them, and only where they are this run's I(data_dir), staging folder or
    I(polar_datadir)) without needing I(force), and backs up again. A failed run
    removes what it created and reports the tool's error.
  - A run holds an C(flock) on the folder of I(data_dir) from start to end; a second
    run there meanwhile fails at once.
  - The password goes to the tools in C(PGPASSWORD); no C(-R), so it is never
    written into C(postgresql.auto.conf).
extends_documentation_fragment:
  - polardb.cluster.postgres
  - polardb.cluster.pfs
options:
  login_user:
    description:
      - The replication role on the primary.
  login_db:
    description:
      - Not used, replication connections name no database.
  data_dir:
    description:
      - Local data directory to back up into. Its parent must exist.
      - An absolute, normalised path (no C(.), C(..), repeated or trailing C(/)), outside the
        system folders (C(/etc), C(/usr), C(/dev), ...) and not a shared folder itself (C(/),
        C(/var/lib), C(/home), C(/tmp), ...); anything else is refused before the module looks at it.
    type: path
    required: true
  engine:
    description:
      - C(polardb) uses C(polar_basebackup) and PFS shared storage,
        C(postgresql) plain C(pg_basebackup).
    type: str
    choices: [polardb, postgresql]
    default: polardb
  polar_datadir:
    description:
      - PFS directory for the shared data, C(/DISK/NAME) (for example
        C(/nvme2n1/shared_data/)), as in C(polar_datadir) of postgresql.conf.
        Its parent directory must exist on PFS.
      - Required with I(engine=polardb).
    type: str
  disk:
    description:
      - PFS disk name (C(polar_disk_name)), for example C(nvme2n1). Required with I(engine=polardb).
    type: str
  host_id:
    description:
      - PFS host id of this node (C(polar_hostid)). Required with I(engine=polardb).
    type: int
  slot:
    description:
      - Physical replication slot on the primary to stream the WAL through (C(-S)).
        Needs I(wal_method=stream).
    type: str
  wal_method:
    description:
      - How the WAL needed by the backup is copied (C(-X)).
    type: str
    choices: [stream, fetch, none]
    default: stream
  mode:
    description:
      - C(direct) writes the shared data straight into PFS.
      - C(staged) writes it to I(staging_dir) on the local disk, copies it into
        PFS with C(pfs cp -r) and removes the local copy (the workaround
        for a C(polar_basebackup) that cannot write into PFS).
      - C(auto) tries C(direct) and, when it fails with C(could not create
        directory "POLAR_DATADIR/..."), the error of a C(polar_basebackup) whose
        tar extractor cannot write into PFS (with PolarDB 15, the first directory
        of the stream, such as C(global) or C(base)), removes what it left and runs C(staged).
      - Ignored with I(engine=postgresql).
    type: str
    choices: [auto, direct, staged]
    default: auto
  staging_dir:
    description:
      - Local directory that holds the staged copy of the shared data, in a
        subdirectory named like the last part of I(polar_datadir).
      - Defaults to I(data_dir) followed by C(.staging).
      - Held to the same rule as I(data_dir).
    type: path
  checkpoint:
    description:
      - Checkpoint mode asked of the primary (C(--checkpoint)).
    type: str
    choices: [fast, spread]
    default: fast
  standby_signal:
    description:
      - Create C(standby.signal) in I(data_dir). The one the backup may carry in
        the shared data is removed in any case (it belongs to a node, not to shared storage).
    type: bool
    default: true
  force:
    description:
      - Clear the contents of a non-empty I(data_dir), I(polar_datadir) or staging
        copy that is not an up-to-date backup, then back up.
      - Never while a server runs in I(data_dir) (a live process named in its
        C(postmaster.pid)); stop it first.
      - Never over a promoted copy of the primary's system (a primary ran or stopped there, or it is on a
        later timeline), which holds writes no other node has. Move it aside first.
    type: bool
    default: false
  bin_dir:
    description:
      - Directory holding C(polar_basebackup)/C(pg_basebackup), C(psql) and
        C(pg_controldata). Defaults to searching C(PATH).
    type: path
  owner:
    description:
      - Operating-system user that runs the PostgreSQL tools and owns what the module
        creates on the local disk (usually C(postgres)).
      - The module itself must then run as root (C(become=true) without C(become_user)),
        because C(pfs cp), C(mkdir) and C(rm) open the PFS disk read-write, which needs root
        (as another user they fail with C(Input/output error)).
      - Unset, everything runs as the user the module runs as.
    type: str
  timeout:
    description:
      - Seconds the backup command may run before it is stopped (with C(timeout) from coreutils).
    type: int
  max_rate:
    description:
      - Largest rate at which the primary sends the data directory (C(--max-rate)), in kB/s
        or with a unit, such as C(512k) or C(20M); 32 kB/s to 1 GB/s. Unset means no limit.
      - Spares a busy primary's disks; the WAL streamed alongside is not throttled.
    type: str
  progress:
    description:
      - Have the tool estimate the copy's size first (C(--progress)), so that the
        primary's C(pg_stat_progress_basebackup) shows how much of it is done
        (C(backup_total)); it costs a walk over the primary's files.
    type: bool
    default: false
    version_added: 0.3.0
  application_name:
    description:
      - The name the copy's connections give the primary (C(PGAPPNAME)), where
        C(pg_stat_activity) and C(pg_stat_progress_basebackup) show it; the
        standby role follows a long copy's progress by it. Unset, the tool's own name.
    type: str
    version_added: 0.3.0
attributes:
  check_mode:
    support: full
    description: Asks the primary and inspects the targets read-only; reports what would be done.
  diff_mode:
    support: full
    description: Shows what O(data_dir) (and O(polar_datadir)) hold before and after, and C(standby.signal).
notes:
  - With I(engine=polardb), run it as root with I(owner) set to the database user. With
    I(engine=postgresql), either that or as the database user itself (C(become_user=postgres)).
  - The shared-storage facts (C(--polardata), C(--polar_disk_name), the error that
    C(auto) falls back on) come from PolarDB 15 and the seed's transcript.
requirements:
  - C(polar_basebackup) or C(pg_basebackup), C(psql) and C(pg_controldata) on the host.
  - C(pfs) and a running C(pfsd) for I(engine=polardb).
'''

EXAMPLES = r'''
- name: Standby on pb3 from the primary on pb1, shared data into its own PFS disk
  polardb.cluster.polar_basebackup:
    login_host: 172.17.0.2
    login_user: replicator
    login_password: "{{ vault_replicator_password }}"
    data_dir: /home/postgres/standby
    polar_datadir: /nvme2n1/shared_data/
    disk: nvme2n1
    host_id: 3
    slot: standby1
    bin_dir: /home/postgres/tmp_polardb_pg_15_base/bin
    owner: postgres
  become: true

- name: Plain PostgreSQL standby
  polardb.cluster.polar_basebackup:
    engine: postgresql
    login_host: 10.0.0.5
    login_user: replicator
    data_dir: /var/lib/postgresql/15/main
    timeout: 3600
'''

RETURN = r'''
mode_used:
  description: C(direct) or C(staged) (C(direct) for I(engine=postgresql)); C(none) when no backup was taken.
  returned: always
  type: str
  sample: staged
system_identifier:
  description: The primary's database system identifier.
  returned: always
  type: str
  sample: '7449012345678901234'
start_lsn:
  description: WAL start point of the backup; null when no backup was taken.
  returned: always
  type: str
  sample: 0/485F0700
bytes:
  description: Bytes written into I(data_dir) and I(polar_datadir) by the backup; 0 when none was taken.
  returned: always
  type: int
  sample: 39174144
duration_s:
  description: Seconds the run took.
  returned: always
  type: float
  sample: 12.3
actions:
  description: What was done (in check mode, what would be done).
  returned: always
  type: list
  elements: str
  sample: ['back up 172.17.0.2:5432 into /home/postgres/standby (direct into /nvme2n1/shared_data)']
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.polardb.cluster.plugins.module_utils.backup_plan import BackupFailed
from ansible_collections.polardb.cluster.plugins.module_utils.basebackup import BaseBackup
from ansible_collections.polardb.cluster.plugins.module_utils.paths import path_problem
from ansible_collections.polardb.cluster.plugins.module_utils.pfs import PfsError, pfs_argument_spec
from ansible_collections.polardb.cluster.plugins.module_utils.postgres import (
    POSTGRES_MUTUALLY_EXCLUSIVE, postgres_common_argument_spec)


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(pfs_argument_spec())
    argument_spec.update(
        data_dir=dict(type='path', required=True),
        engine=dict(type='str', default='polardb', choices=['polardb', 'postgresql']),
        polar_datadir=dict(type='str'),
        disk=dict(type='str'),
        host_id=dict(type='int'),
        slot=dict(type='str'),
        wal_method=dict(type='str', default='stream', choices=['stream', 'fetch', 'none']),
        mode=dict(type='str', default='auto', choices=['auto', 'direct', 'staged']),
        staging_dir=dict(type='path'),
        checkpoint=dict(type='str', default='fast', choices=['fast', 'spread']),
        standby_signal=dict(type='bool', default=True),
        force=dict(type='bool', default=False),
        bin_dir=dict(type='path'),
        owner=dict(type='str'),
        timeout=dict(type='int'),
        max_rate=dict(type='str'),
        application_name=dict(type='str'),
        progress=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=POSTGRES_MUTUALLY_EXCLUSIVE,
                           required_if=[('engine', 'polardb', ('polar_datadir', 'disk', 'host_id'))])
    if module.params['engine'] == 'polardb':
        unset = [name for name in ('polar_datadir', 'disk', 'host_id') if module.params[name] in (None, '')]
        if unset:  # required_if accepts an explicit null
            module.fail_json(msg='engine is polardb but the following are missing: %s' % ', '.join(unset))
    # Before anything is looked at: force clears data_dir and the staging copy.
    for name in ('data_dir', 'staging_dir'):
        problem = module.params[name] is not None and path_problem(module.params[name], name)
        if problem:
            module.fail_json(msg=problem)
    started = time.monotonic()
    backup = BaseBackup(module)
    backup.validate()
    try:
        result = backup.apply()
    except BackupFailed as e:
        module.fail_json(msg=to_native(e), actions=backup.actions, **e.details)
    except (PfsError, OSError) as e:
        module.fail_json(msg=to_native(e), actions=backup.actions)
    diff = result.pop('diff', None)
    if module._diff and diff:
        result['diff'] = diff
    module.exit_json(duration_s=round(time.monotonic() - started, 3), actions=backup.actions, **result)


if __name__ == '__main__':
    main()
