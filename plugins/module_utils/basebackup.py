# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A base backup of a primary onto this host: inspect, plan (backup_plan), back up, undo.

The standby's polar_basebackup module drives it; the pieces (the plan, the marker,
PFS staging, running the tools as the data's owner) are shared with whatever
else writes a copy of a primary onto a node.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import shutil
import tempfile

from ansible.module_utils.common.text.converters import to_native
from ansible_collections.polardb.cluster.plugins.module_utils.backup_marker import (
    Marker, dir_entries, empty_local, local_size)
from ansible_collections.polardb.cluster.plugins.module_utils.backup_plan import (
    BackupFailed, Location, Refused, plan_backup, promotion_reason, running_server_refusal)
from ansible_collections.polardb.cluster.plugins.module_utils.commands import TIMED_OUT, run_as, switch_user
from ansible_collections.polardb.cluster.plugins.module_utils.controldata import parse_controldata, promoted_copy
from ansible_collections.polardb.cluster.plugins.module_utils.pfs import Pfs, PfsError
from ansible_collections.polardb.cluster.plugins.module_utils.postgres import (
    cli_connection_args, cli_env, describe_target, make_conninfo)

# PolarDB 15's tar extractor creates directories with plain mkdir(), not through
# PFS: the first directory of the stream under --polardata fails (base, global...).
SHARED_STORAGE_ERROR = re.compile(r'could not create directory "([^"]+)": No such file or directory')
START_LSN = re.compile(r'write-ahead log start point: (\S+) on timeline')
MAX_RATE = re.compile(r'^\d+[kM]?$')
KILL_AFTER = 30  # seconds between timeout's TERM and its KILL


def client_error(text):
    """The line of a client's output that says why it failed (libpq puts FATAL last)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    reason = next((line for line in reversed(lines) if 'FATAL:' in line or 'error:' in line),
                  lines[0] if lines else 'no output')
    return re.sub(r'^\S+: error: ', '', reason)


def running_server(data_dir):
    """The pid of a live server that owns data_dir (its postmaster.pid), else None."""
    try:
        with open(os.path.join(data_dir, 'postmaster.pid')) as handle:
            first = handle.readline().strip()
        with open('/proc/%s/cmdline' % first, 'rb') as handle:
            program = os.path.basename(handle.read().split(b'\0')[0].decode('utf-8', 'replace'))
    except (IOError, OSError):
        return None  # no pid file, or its process is gone (a stale file after a crash or restart)
    return int(first) if first.isdigit() and program.split(':')[0] in ('postgres', 'postmaster') else None


class BaseBackup(object):
    def __init__(self, module):
        self.module = module
        params = module.params
        self.params = params
        self.polardb = params['engine'] == 'polardb'
        self.data_dir = params['data_dir']
        self.actions = []
        self.primary_timeline = None
        self.local_control = {}
        self.pfs = None
        try:
            self.owner = switch_user(params['owner'], root_also=' and PFS writes as root')
        except ValueError as e:
            module.fail_json(msg=to_native(e))
        self.marker = Marker(self.data_dir, 'polardb.cluster.polar_basebackup', self.give_to_owner)
        self.locations = {'data_dir': Location('local', self.data_dir, 'data_dir')}
        self.polar_datadir = self.staging_dir = None
        if self.polardb:
            self.polar_datadir = '/' + '/'.join(p for p in params['polar_datadir'].split('/') if p)
            self.staging_dir = params['staging_dir'] or self.data_dir + '.staging'
            self.locations['polar_datadir'] = Location('pfs', self.polar_datadir, 'polar_datadir')
            if params['mode'] != 'direct':
                self.locations['staging'] = Location(
                    'local', os.path.join(self.staging_dir, os.path.basename(self.polar_datadir)), 'staging copy')

    # ---- tools ---------------------------------------------------------------

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
        return run_as(self.module, argv, user=self.owner.pw_name if self.owner else None, timeout=timeout,
                      kill_after=KILL_AFTER, env=env)

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
        self.local_control = parse_controldata(out)
        sysid = self.local_control['system_identifier'] if rc == 0 else None
        return sysid or 'unreadable (%s)' % (err.strip() or 'rc %d' % rc)

    def promotion(self, local_sysid, primary_sysid):
        """Why data_dir, a cluster of the primary's system, is no longer a copy of it; else None."""
        if local_sysid != primary_sysid:
            return None
        recovery_files = [name for name in ('standby.signal', 'backup_label')
                          if os.path.exists(os.path.join(self.data_dir, name))]
        detail = promoted_copy(self.local_control, self.primary_timeline, recovery_files)
        return promotion_reason(self.data_dir, local_sysid, detail) if detail else None

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

    def refuse_under_a_running_server(self):
        pid = running_server(self.data_dir)
        if pid is not None:
            raise Refused(running_server_refusal(pid, self.data_dir))

    # ---- what a run created, and its removal ------------------------------------------

    def own_paths(self):
        """The only paths this run may clear: its data_dir, staging folder and polar_datadir."""
        paths = set(location.path for location in self.locations.values())
        if 'staging' in self.locations:
            paths.add(self.staging_dir)
        return paths

    def record(self):
        locations = [dict(kind=loc.kind, path=loc.path, created=loc.entries is None)
                     for loc in self.locations.values()]
        if 'staging' in self.locations and not os.path.isdir(self.staging_dir):
            locations.append(dict(kind='local', path=self.staging_dir, created=True))
        return self.marker.write(locations)

    def clean(self, record, paths=None):
        self.marker.clean(record, self.own_paths(), self.pfs.empty if self.pfs else None, self.module.warn,
                          paths=paths)

    def undo(self, record):
        try:
            self.clean(record)
            self.marker.remove()
            self.actions.append('removed what this run had created')
        except (PfsError, OSError) as e:
            self.actions.append('could not remove what this run had created (%s); the next run will, as %s '
                                'records it' % (to_native(e), self.marker.path))

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
        if rc == TIMED_OUT and self.params['timeout']:
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
        size = local_size(self.data_dir) + (self.pfs.size(self.polar_datadir) if into_pfs else 0)
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
            self.marker.lock()
        marker = self.marker.read()
        if marker:
            self.refuse_under_a_running_server()
            self.actions.append('remove the leftovers of an interrupted run recorded in %s' % self.marker.path)
            if not check_mode:
                self.clean(marker)
                self.marker.remove()
        self.inspect()
        owned = set(entry['path'] for entry in marker['locations']) if marker and check_mode else set()
        local_sysid = self.local_system_identifier()
        before = self.summary(local_sysid)
        in_the_way = plan_backup(self.locations, self.data_dir, sysid, local_sysid,
                                 promoted=self.promotion(local_sysid, sysid), owned=owned,
                                 force=self.params['force'], running_pid=running_server(self.data_dir),
                                 polar_datadir=self.polar_datadir)
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
                self.pfs.empty(location.path)
            else:
                empty_local(location.path)
        record = self.record()
        try:
            result['mode_used'], result['start_lsn'], result['bytes'] = self.take(record)
            if self.polardb:
                self.pfs.rm(self.polar_datadir + '/standby.signal', missing_ok=True)
            self.ensure_standby_signal()
        except (BackupFailed, PfsError, OSError):
            self.undo(record)
            raise
        self.marker.remove()
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
