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

import errno
import fcntl
import json
import os
import pwd
import re
import shlex
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.polardb.cluster.plugins.module_utils.paths import path_problem
from ansible_collections.polardb.cluster.plugins.module_utils.pfs import Pfs, PfsError, pfs_argument_spec
from ansible_collections.polardb.cluster.plugins.module_utils.postgres import (
    POSTGRES_MUTUALLY_EXCLUSIVE, cli_connection_args, cli_env, describe_target, make_conninfo,
    postgres_common_argument_spec)

MARKER_SUFFIX = '.polar_basebackup.json'
# PolarDB 15's tar extractor creates directories with plain mkdir(), not through
# PFS: the first directory of the stream under --polardata fails (base, global...).
SHARED_STORAGE_ERROR = re.compile(r'could not create directory "([^"]+)": No such file or directory')
START_LSN = re.compile(r'write-ahead log start point: (\S+) on timeline')
SYSTEM_IDENTIFIER = re.compile(r'^Database system identifier:\s*(\d+)\s*$', re.M)
CLUSTER_STATE = re.compile(r'^Database cluster state:\s*(.+?)\s*$', re.M)
CHECKPOINT_TIMELINE = re.compile(r"^Latest checkpoint's TimeLineID:\s*(\d+)\s*$", re.M)
# What pg_control says of a server that ran (or runs) as a primary: a standby
# says 'in archive recovery' or 'shut down in recovery'.
PRIMARY_STATES = ('in production', 'shut down', 'shutting down')
C_LOCALE = {'LC_ALL': 'C', 'LANG': 'C', 'LANGUAGE': 'C'}  # the output is parsed
STDERR_TAIL_LINES = 20
MAX_RATE = re.compile(r'^\d+[kM]?$')


class BackupFailed(Exception):
    def __init__(self, msg, argv=None, rc=None, stderr=''):
        super(BackupFailed, self).__init__(msg)
        self.stderr = stderr
        self.details = dict(cmd=' '.join(shlex.quote(a) for a in argv) if argv else None, rc=rc,
                            stderr_tail='\n'.join(stderr.strip().splitlines()[-STDERR_TAIL_LINES:]))


def client_error(text):
    """The line of a client's output that says why it failed (libpq puts FATAL last)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    reason = next((line for line in reversed(lines) if 'FATAL:' in line or 'error:' in line),
                  lines[0] if lines else 'no output')
    return re.sub(r'^\S+: error: ', '', reason)


def dir_entries(path):
    """Names in a local directory; None when it does not exist."""
    return sorted(os.listdir(path)) if os.path.isdir(path) else None


def local_size(path):
    total = 0
    for top, _dirs, names in os.walk(path):
        total += sum(os.lstat(os.path.join(top, name)).st_size for name in names)
    return total


class Location(object):
    """A directory the backup writes into: local or on PFS."""

    def __init__(self, kind, path, label):
        self.kind, self.path, self.label = kind, path, label
        self.entries = None    # names inside, None when missing

    def describe(self):
        where = ' on PFS' if self.kind == 'pfs' else ''
        return '%s %s%s' % (self.label, self.path, where)


class BaseBackup(object):
    def __init__(self, module):
        self.module = module
        params = module.params
        self.params = params
        self.polardb = params['engine'] == 'polardb'
        self.data_dir = params['data_dir']
        self.marker_path = os.path.join(os.path.dirname(self.data_dir),
                                        '.%s%s' % (os.path.basename(self.data_dir), MARKER_SUFFIX))
        self.lock_fd = None
        self.actions = []
        self.primary_timeline = None
        self.local_control = {}
        self.pfs = None
        self.owner = self.resolve_owner(params['owner'])
        self.locations = {'data_dir': Location('local', self.data_dir, 'data_dir')}
        if self.polardb:
            self.polar_datadir = '/' + '/'.join(p for p in params['polar_datadir'].split('/') if p)
            staging_dir = params['staging_dir'] or self.data_dir + '.staging'
            self.staging_dir = staging_dir
            self.locations['polar_datadir'] = Location('pfs', self.polar_datadir, 'polar_datadir')
            if params['mode'] != 'direct':
                self.locations['staging'] = Location(
                    'local', os.path.join(staging_dir, os.path.basename(self.polar_datadir)), 'staging copy')

    # ---- tools ---------------------------------------------------------------

    def resolve_owner(self, name):
        """The passwd entry of owner when the tools must switch to it, else None."""
        if not name:
            return None
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            self.module.fail_json(msg='owner %s is not a user on this host.' % name)
        if entry.pw_uid == os.geteuid():
            return None
        if os.geteuid() != 0:
            self.module.fail_json(msg='owner=%s needs the module to run as root (become: true, no become_user): '
                                      'it runs the PostgreSQL tools as %s and PFS writes as root.' % (name, name))
        return entry

    def give_to_owner(self, path):
        if self.owner:
            os.chown(path, self.owner.pw_uid, self.owner.pw_gid)

    def tool(self, name):
        bin_dir = self.params['bin_dir']
        if not bin_dir:
            return self.module.get_bin_path(name, required=True)
        path = os.path.join(bin_dir, name)
        if not os.access(path, os.X_OK):
            self.module.fail_json(msg='%s not found in bin_dir %s' % (name, bin_dir))
        return path

    def run(self, argv, env=None, timeout=None):
        """Run a PostgreSQL tool, as owner when one is set."""
        if timeout:
            argv = [self.module.get_bin_path('timeout', required=True), '--kill-after=30', str(timeout)] + argv
        if self.owner:
            argv = [self.module.get_bin_path('runuser', required=True), '-u', self.owner.pw_name, '--'] + argv
        environ = dict(C_LOCALE, **(env or {}))
        rc, out, err = self.module.run_command(argv, environ_update=environ, expand_user_and_vars=False)
        return argv, rc, out, err

    # ---- inspection (read-only) ------------------------------------------------

    def validate(self):
        if not os.path.isdir(os.path.dirname(self.data_dir)):
            self.module.fail_json(msg='The parent directory of data_dir %s does not exist; create it first.'
                                  % self.data_dir)
        if self.params['slot'] and self.params['wal_method'] != 'stream':
            self.module.fail_json(msg='slot needs wal_method=stream (pg_basebackup -S streams through it).')
        if self.params['max_rate'] is not None and not MAX_RATE.match(self.params['max_rate']):
            self.module.fail_json(msg='max_rate=%s is not a rate such as 512 (kB/s), 512k or 20M.'
                                  % self.params['max_rate'])
        if not self.polardb:
            return
        parts = self.polar_datadir.split('/')[1:]
        if len(parts) < 2 or parts[0] != self.params['disk']:
            self.module.fail_json(msg='polar_datadir %s must be a directory on the PFS disk %s: /%s/NAME.'
                                  % (self.params['polar_datadir'], self.params['disk'], self.params['disk']))
        staging = self.staging_dir + '/'
        if staging.startswith(self.data_dir + '/') or (self.data_dir + '/').startswith(staging):
            self.module.fail_json(msg='staging_dir %s and data_dir %s must not contain each other.'
                                  % (self.staging_dir, self.data_dir))

    def identify_primary(self):
        conninfo = make_conninfo(self.params, replication='true', dbname='replication')
        argv, rc, out, err = self.run([self.tool('psql'), '-w', conninfo, '-AtXc', 'IDENTIFY_SYSTEM'],
                                      env=cli_env(self.params))
        fields = out.strip().splitlines()[0].split('|') if rc == 0 and out.strip() else []
        if len(fields) < 3 or not fields[0].isdigit() or not fields[1].isdigit():
            raise BackupFailed('Could not ask the primary %s for its system identifier (IDENTIFY_SYSTEM over a '
                               'replication connection; the role needs REPLICATION and a pg_hba.conf '
                               '"replication" entry): %s' % (describe_target(self.params), client_error(err or out)),
                               argv, rc, err or out)
        self.primary_timeline = int(fields[1])
        return fields[0]

    def local_system_identifier(self):
        """The system identifier of the cluster in data_dir, None when it holds none.

        PolarDB keeps pg_control in the shared data: until the standby first
        starts, data_dir/global is empty. Then the copy on PFS is read, through a
        scratch folder (pg_controldata on data_dir itself would follow its
        postgresql.conf, which still names the primary's shared data).
        """
        if os.path.exists(os.path.join(self.data_dir, 'global', 'pg_control')):
            return self.controldata_identifier(self.data_dir)
        if not self.polardb or not os.path.isdir(self.data_dir):
            return None
        shared_control = self.polar_datadir + '/global/pg_control'
        if not self.pfs.exists(shared_control):
            return None
        scratch = tempfile.mkdtemp(prefix='polar_basebackup.')
        try:
            os.mkdir(os.path.join(scratch, 'global'))
            self.pfs.run(['cp', shared_control, os.path.join(scratch, 'global', 'pg_control')], check_rc=True)
            for path in (scratch, os.path.join(scratch, 'global'), os.path.join(scratch, 'global', 'pg_control')):
                self.give_to_owner(path)
            return self.controldata_identifier(scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def controldata_identifier(self, folder):
        """The system identifier pg_control in folder names; its timeline and state go to local_control."""
        argv, rc, out, err = self.run([self.tool('pg_controldata'), folder])
        match = SYSTEM_IDENTIFIER.search(out) if rc == 0 else None
        state, timeline = CLUSTER_STATE.search(out or ''), CHECKPOINT_TIMELINE.search(out or '')
        self.local_control = dict(state=state.group(1) if state else None,
                                  timeline=int(timeline.group(1)) if timeline else None)
        return match.group(1) if match else 'unreadable (%s)' % (err.strip() or 'rc %d' % rc)

    def promotion(self, local_sysid, primary_sysid):
        """Why data_dir, a cluster of the primary's system, is no longer a copy of it; else None.

        A promoted standby keeps the system identifier: its timeline (ahead of
        the primary's) or its state (a primary's, with neither standby.signal
        nor a backup label) tells it apart. Never made a standby again here.
        """
        if local_sysid != primary_sysid:
            return None
        state, timeline = self.local_control.get('state'), self.local_control.get('timeline')
        ahead = timeline is not None and timeline > self.primary_timeline
        ran_as_primary = state in PRIMARY_STATES and not any(
            os.path.exists(os.path.join(self.data_dir, name)) for name in ('standby.signal', 'backup_label'))
        if not (ahead or ran_as_primary):
            return None
        return ('data_dir %s holds the primary\'s system (identifier %s) but was promoted: it is on timeline %s '
                '(cluster state: %s), the primary on timeline %d. It is no longer a copy of the primary: make this '
                'host the primary in the inventory, or rebuild it as a standby (playbooks/rebuild.yml)'
                % (self.data_dir, local_sysid, timeline, state, self.primary_timeline))

    def inspect(self):
        for location in self.locations.values():
            if location.kind == 'local':
                location.entries = dir_entries(location.path)
            else:
                listing = self.pfs.ls(location.path)
                location.entries = None if listing is None else sorted(entry.name for entry in listing)

    def check_pfs(self):
        disk = self.params['disk']
        if not self.pfs.is_formatted(disk):
            raise BackupFailed('Disk %s does not hold PFS; format it first.' % disk)
        parent = os.path.dirname(self.polar_datadir)
        if parent != '/' + disk and not self.pfs.exists(parent):
            raise BackupFailed('The parent %s of polar_datadir does not exist on PFS; create it first.' % parent)

    # ---- the marker ---------------------------------------------------------------

    def lock(self):
        """Hold an flock on data_dir's parent for the rest of the module's life.

        One run at a time there: a second run would otherwise take the first
        one's marker for a crash and remove a backup still in progress. The
        folder is locked, not a file in it, so that a refused run leaves nothing behind.
        """
        parent = os.path.dirname(self.data_dir)
        fd = os.open(parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as e:
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            recorded = self.marker_pid()
            raise BackupFailed('Another polar_basebackup run%s holds the lock on %s, the folder of data_dir %s; '
                               'wait for it to end.' % (' (pid %s)' % recorded if recorded else '', parent,
                                                        self.data_dir))
        self.lock_fd = fd

    def marker_pid(self):
        try:
            with open(self.marker_path) as handle:
                return json.load(handle).get('pid')
        except (IOError, OSError, ValueError, AttributeError):
            return None

    def read_marker(self):
        if not os.path.exists(self.marker_path):
            return None
        try:
            with open(self.marker_path) as handle:
                return json.load(handle)
        except ValueError as e:
            raise BackupFailed('The marker %s of an interrupted run is unreadable (%s); look at what it left '
                               'in data_dir and polar_datadir, then remove the marker.' % (self.marker_path, e))

    def write_marker(self):
        record = dict(module='polardb.cluster.polar_basebackup', pid=os.getpid(), started=time.time(),
                      locations=[dict(kind=loc.kind, path=loc.path, created=loc.entries is None)
                                 for loc in self.locations.values()])
        if 'staging' in self.locations and not os.path.isdir(self.staging_dir):
            record['locations'].append(dict(kind='local', path=self.staging_dir, created=True))
        with open(self.marker_path + '.tmp', 'w') as handle:
            json.dump(record, handle, indent=1)
        self.give_to_owner(self.marker_path + '.tmp')
        os.rename(self.marker_path + '.tmp', self.marker_path)
        return record

    def own_paths(self):
        """The only paths this run may clear: its data_dir, staging folder and polar_datadir."""
        paths = set(location.path for location in self.locations.values())
        if 'staging' in self.locations:
            paths.add(self.staging_dir)
        return paths

    def clean(self, record, paths=None):
        """Remove what a run recorded (of paths, if given): a directory it created, else its contents.

        Only paths of this run's own parameters are touched: a marker naming anything
        else (edited, or left by a run with other parameters) is reported, not obeyed.
        """
        own = self.own_paths()
        for entry in sorted(record['locations'], key=lambda e: -len(e['path'])):
            path = entry['path']
            if paths and path not in paths:
                continue
            if path not in own:
                self.module.warn('%s lists %s, which is none of this run\'s data_dir, staging folder or '
                                 'polar_datadir: left as it is' % (self.marker_path, path))
                continue
            if entry['kind'] == 'pfs' and path.strip('/').count('/') >= 1:  # never a disk root
                self.empty_pfs(path, remove_dir=entry['created'])
            elif entry['kind'] == 'local' and os.path.isabs(path) and path != '/':
                self.empty_local(path, remove_dir=entry['created'])

    def empty_local(self, path, remove_dir=False):
        if remove_dir:
            if os.path.isdir(path):
                shutil.rmtree(path)
            return
        for name in dir_entries(path) or []:
            full = os.path.join(path, name)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.remove(full)

    def empty_pfs(self, path, remove_dir=False):
        if remove_dir:
            self.pfs.rm(path, recursive=True, missing_ok=True)
            return
        for entry in self.pfs.ls(path) or []:
            self.pfs.rm('%s/%s' % (path, entry.name), recursive=True, missing_ok=True)

    def pfs_size(self, path):
        total = 0
        for entry in self.pfs.ls(path) or []:
            child = '%s/%s' % (path, entry.name)
            total += self.pfs_size(child) if entry.kind == 'Dir' else entry.size
        return total

    # ---- decision -----------------------------------------------------------------

    def blocker(self, location, local_sysid, primary_sysid):
        """Why a non-empty location may not be overwritten without force."""
        count = len(location.entries)
        promoted = self.promotion(local_sysid, primary_sysid) if location.label == 'data_dir' else None
        if promoted:
            return promoted
        if location.label == 'data_dir' and local_sysid == primary_sysid:
            return ('data_dir %s holds a copy of the primary (system identifier %s) but polar_datadir %s on PFS '
                    'is missing or empty' % (location.path, primary_sysid, self.polar_datadir))
        if location.label == 'data_dir' and local_sysid:
            return ('data_dir %s holds a cluster of another system (system identifier %s; the primary\'s is %s)'
                    % (location.path, local_sysid, primary_sysid))
        shared = self.locations.get('polar_datadir')
        if location.label == 'data_dir' and 'PG_VERSION' in location.entries and shared is not None \
                and not shared.entries:
            return ('data_dir %s holds %d entries (%s) but no pg_control: PolarDB keeps it in the shared data, '
                    'and polar_datadir %s on PFS is missing or empty'
                    % (location.path, count, ', '.join(location.entries[:5]), self.polar_datadir))
        return '%s is not empty (%d entries: %s)' % (location.describe(), count, ', '.join(location.entries[:5]))

    def plan(self, primary_sysid, local_sysid, owned):
        """None when up to date, else the locations force would have to clear."""
        shared = self.locations.get('polar_datadir')
        if self.data_dir not in owned and local_sysid == primary_sysid and (shared is None or shared.entries) \
                and not self.promotion(local_sysid, primary_sysid):
            return None
        in_the_way = [loc for loc in self.locations.values() if loc.entries and loc.path not in owned]
        promoted = self.promotion(local_sysid, primary_sysid) if self.data_dir not in owned else None
        if promoted and any(loc.label == 'data_dir' for loc in in_the_way):
            # A promoted copy holds writes no other node has: force replaces
            # another system, never a former follower of this one.
            raise BackupFailed('Refusing to back up: %s. force does not override this: move %s aside first '
                               '(playbooks/rebuild.yml with rebuild_promoted=true keeps it).'
                               % (promoted, self.data_dir))
        problems = [self.blocker(loc, local_sysid, primary_sysid) for loc in in_the_way]
        if problems and not self.params['force']:
            pid = self.running_server()
            raise BackupFailed('Refusing to back up: %s. Set force=true to clear their contents and back up%s.'
                               % ('; '.join(problems), '' if pid is None else
                                  ', once the server running there (pid %d) is stopped (pg_ctl stop -D %s)'
                                  % (pid, self.data_dir)))
        self.refuse_under_a_running_server()
        return in_the_way

    def running_server(self):
        """The pid of a live server that owns data_dir (its postmaster.pid), else None."""
        try:
            with open(os.path.join(self.data_dir, 'postmaster.pid')) as handle:
                first = handle.readline().strip()
            with open('/proc/%s/cmdline' % first, 'rb') as handle:
                program = os.path.basename(handle.read().split(b'\0')[0].decode('utf-8', 'replace'))
        except (IOError, OSError):
            return None  # no pid file, or its process is gone (a stale file after a crash or restart)
        return int(first) if first.isdigit() and program.split(':')[0] in ('postgres', 'postmaster') else None

    def refuse_under_a_running_server(self):
        pid = self.running_server()
        if pid is not None:
            raise BackupFailed('A server (pid %d, %s/postmaster.pid) runs in data_dir %s: a backup would replace '
                               'its files under it. Stop it first (pg_ctl stop -D %s), even with force=true.'
                               % (pid, self.data_dir, self.data_dir, self.data_dir))

    # ---- the backup ----------------------------------------------------------------

    def basebackup_argv(self, polardata=None, into_pfs=False):
        params = self.params
        argv = [self.tool('polar_basebackup' if self.polardb else 'pg_basebackup')]
        argv += cli_connection_args(params) + ['-w', '-D', self.data_dir]
        if polardata:
            argv.append('--polardata=' + polardata)
        if into_pfs:
            argv += ['--polar_storage_cluster_name=' + params['cluster'], '--polar_disk_name=' + params['disk'],
                     '--polar_host_id=%d' % params['host_id']]
        argv += ['-X', params['wal_method'], '--checkpoint=' + params['checkpoint'], '-v']
        if params['slot']:
            argv += ['-S', params['slot']]
        if params['max_rate']:
            argv.append('--max-rate=' + params['max_rate'])
        if params['progress']:
            argv.append('--progress')
        return argv

    def run_basebackup(self, argv):
        name = os.path.basename(argv[0])
        env = cli_env(self.params)
        if self.params['application_name']:
            env['PGAPPNAME'] = self.params['application_name']
        argv, rc, out, err = self.run(argv, env=env, timeout=self.params['timeout'])
        if rc == 124 and self.params['timeout']:
            raise BackupFailed('%s did not finish within timeout=%ds.' % (name, self.params['timeout']),
                               argv, rc, err)
        if rc != 0:
            raise BackupFailed('%s failed with rc %d.' % (name, rc), argv, rc, err or out)
        match = START_LSN.search(err + out)
        return match.group(1) if match else None

    def direct(self):
        into_pfs = self.polardb
        polardata = self.polar_datadir + '/' if into_pfs else None
        start_lsn = self.run_basebackup(self.basebackup_argv(polardata, into_pfs))
        size = local_size(self.data_dir) + (self.pfs_size(self.polar_datadir) if into_pfs else 0)
        return 'direct', start_lsn, size

    def staged(self, record):
        copy = self.locations['staging'].path
        if not os.path.isdir(self.staging_dir):
            os.makedirs(self.staging_dir, 0o700)
            self.give_to_owner(self.staging_dir)
        start_lsn = self.run_basebackup(self.basebackup_argv(copy))
        size = local_size(self.data_dir) + local_size(copy)
        self.pfs.cp_r(copy, os.path.dirname(self.polar_datadir) + '/')
        self.clean(record, paths=(copy, self.staging_dir))
        return 'staged', start_lsn, size

    def take(self, record):
        mode = self.params['mode'] if self.polardb else 'direct'
        if mode == 'staged':
            return self.staged(record)
        try:
            return self.direct()
        except BackupFailed as failure:
            directory = self.unwritable_pfs_directory(failure.stderr)
            if mode != 'auto' or directory is None:
                raise
        self.actions.append('direct backup into PFS failed with "could not create directory %s" (this '
                            'polar_basebackup cannot write into PFS); cleaned its leftovers and fell back '
                            'to staged' % directory)
        self.clean(record, paths=(self.data_dir, self.polar_datadir))
        return self.staged(record)

    def unwritable_pfs_directory(self, stderr):
        """The directory under polar_datadir that the tool could not create, else None."""
        for match in SHARED_STORAGE_ERROR.finditer(stderr):
            path = os.path.normpath(match.group(1))
            if path.startswith(self.polar_datadir + '/'):
                return path
        return None

    def ensure_standby_signal(self):
        path = os.path.join(self.data_dir, 'standby.signal')
        if not self.params['standby_signal'] or os.path.exists(path):
            return False
        self.actions.append('create %s' % path)
        if not self.module.check_mode:
            open(path, 'a').close()
            self.give_to_owner(path)
        return True

    def apply(self):
        check_mode = self.module.check_mode
        if self.polardb:
            self.pfs = Pfs(self.module, cluster=self.params['cluster'], pfs_path=self.params['pfs_path'])
            self.check_pfs()
        sysid = self.identify_primary()
        result = dict(changed=False, mode_used='none', system_identifier=sysid, start_lsn=None, bytes=0)
        if not check_mode:
            self.lock()
        marker = self.read_marker()
        if marker:
            self.refuse_under_a_running_server()
            self.actions.append('remove the leftovers of an interrupted run recorded in %s' % self.marker_path)
            if not check_mode:
                self.clean(marker)
                os.remove(self.marker_path)
        self.inspect()
        owned = set(entry['path'] for entry in marker['locations']) if marker and check_mode else set()
        local_sysid = self.local_system_identifier()
        before = self.summary(local_sysid)
        in_the_way = self.plan(sysid, local_sysid, owned)
        if in_the_way is None:
            result['changed'] = self.ensure_standby_signal()
            result['diff'] = dict(before=before, after=dict(before, standby_signal=self.params['standby_signal']
                                                            or before['standby_signal']))
            return result
        after = dict((label, 'copy of the primary (system identifier %s)' % sysid) for label in before
                     if label in ('data_dir', 'polar_datadir'))
        result['diff'] = dict(before=before, after=dict(after, standby_signal=self.params['standby_signal']))
        for location in in_the_way:
            self.actions.append('clear the contents of %s' % location.describe())
        self.actions.append('back up %s into %s%s' % (
            describe_target(self.params), self.data_dir,
            ' (mode %s, shared data into %s)' % (self.params['mode'], self.polar_datadir) if self.polardb else ''))
        result['changed'] = True
        if check_mode:
            self.ensure_standby_signal()
            return result
        for location in in_the_way:
            if location.kind == 'pfs':
                self.empty_pfs(location.path)
            else:
                self.empty_local(location.path)
        record = self.write_marker()
        try:
            result['mode_used'], result['start_lsn'], result['bytes'] = self.take(record)
            if self.polardb:
                self.pfs.rm(self.polar_datadir + '/standby.signal', missing_ok=True)
            self.ensure_standby_signal()
        except (BackupFailed, PfsError, OSError):
            self.undo(record)
            raise
        os.remove(self.marker_path)
        return result

    def summary(self, local_sysid):
        """What data_dir (and polar_datadir) hold now, for --diff."""
        state = {}
        for label in ('data_dir', 'polar_datadir'):
            location = self.locations.get(label)
            if location is None:
                continue
            if location.entries is None:
                state[label] = 'absent'
            elif label == 'data_dir' and local_sysid:
                state[label] = 'cluster with system identifier %s' % local_sysid
            else:
                state[label] = '%d entries' % len(location.entries) if location.entries else 'empty'
        state['standby_signal'] = os.path.exists(os.path.join(self.data_dir, 'standby.signal'))
        return state

    def undo(self, record):
        try:
            self.clean(record)
            os.remove(self.marker_path)
            self.actions.append('removed what this run had created')
        except (PfsError, OSError) as e:
            self.actions.append('could not remove what this run had created (%s); the next run will, as %s '
                                'records it' % (to_native(e), self.marker_path))


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
