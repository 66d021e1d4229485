# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one runner of the PFS command-line tool (`pfs -C CLUSTER ...`) and its parsers.

Exit codes and messages are those recorded from the real tool (see
tests/unit/recordings): a missing path is rc 255 plus 'No such file or
directory', `ls` of an unformatted disk is rc 5 with no output, mkfs refuses
with 16 (already formatted; a disk pfsd serves is NOT refused, callers look
for the daemon themselves), 234 (disk smaller than 10 GiB), 22 (no /dev/NAME)
and 243 (no RUN_DIR to lock in).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
from collections import namedtuple

PFS_MIN_DISK_BYTES = 10 * 1024 ** 3   # exactly 10 GiB formats, despite PFS saying "greater than"
PFS_CHUNK_BYTES = 10 * 1024 ** 3      # PFS formats whole 10 GiB chunks (15 GiB disk -> 1 chunk)

RC_NOT_FORMATTED = 5
RC_ALREADY_FORMATTED = 16
RC_NO_DEVICE = 22
RC_TOO_SMALL = 234
RC_NO_RUN_DIR = 243
RC_FAILED = 255

NO_SUCH_FILE = 'No such file or directory'
IO_ERROR = 'Input/output error'
WRITE_COMMANDS = ('cp', 'mkdir', 'rm', 'mkfs')
# Writers lock RUN_DIR/DISK-paxos-hostid; PFS's installer and start_pfsd.sh make
# the folder, but /var/run is empty again after a reboot.
RUN_DIR = '/var/run/pfs'
FILE_EXISTS = 'File exists'

MKFS_HINTS = {
    RC_ALREADY_FORMATTED: 'the disk already holds PFS; only reformat formats it again, after stopping pfsd',
    RC_NO_RUN_DIR: 'PFS could not lock %s/DISK-paxos-hostid: the folder is missing or not writable' % RUN_DIR,
    RC_TOO_SMALL: 'PFS needs a disk of at least 10 GiB (10737418240 bytes)',
    RC_NO_DEVICE: 'PFS opens the disk as /dev/NAME and there is no such device',
}

PfsResult = namedtuple('PfsResult', 'argv rc stdout stderr')
PfsEntry = namedtuple('PfsEntry', 'kind links size mtime name')

_LS_LINE = re.compile(r'^\s*(File|Dir)\s+(\d+)\s+(\d+)\s+'
                      r'(\w{3} \w{3} +\d{1,2} \d\d:\d\d:\d\d \d{4})\s+(\S.*)$')
_LS_TOTAL = re.compile(r'^total (\d+) \(unit: 512Bytes\)')
_LOG_ERROR = re.compile(r'\sERR \[\d+\] (.*)$')
_CMD_RECORD = 'pfs tool cmd record:'
_MKFS_DONE = re.compile(r'Inited filesystem\((\d+) bytes\), (\d+) chunks')
_INFO_CHUNKS = re.compile(r'^Blktag Info:\s*\n\s*\(0\)allocnode:.*?nchild=(\d+)', re.M)


class PfsError(Exception):
    """A pfs command failed; .result is its PfsResult."""

    def __init__(self, result, hint=None):
        self.result = result
        self.hint = hint
        output = reason_lines(result)
        message = "'%s' failed with rc %s" % (' '.join(result.argv), result.rc)
        if hint:
            message += ' (%s)' % hint
        if output:
            message += ': ' + ' | '.join(output)
        super(PfsError, self).__init__(message)


def reason_lines(result, count=5):
    """The lines that say why a pfs command failed, without its trace.

    pfs prints its verdict on stdout (`cp failed: Input/output error`) and a
    PFS_LOG trace on stderr, where only the ERR lines carry a reason (`pbd disk
    size must be greater than 10GB!`); the INF lines name callers and versions.
    """
    verdicts, errors = [], []
    for line in (result.stdout + '\n' + result.stderr).splitlines():
        line = line.strip()
        if line.startswith('[PFS_LOG]'):
            match = _LOG_ERROR.search(line)
            if match:
                errors.append(match.group(1).strip())
        elif line and not line.startswith(_CMD_RECORD):
            verdicts.append(line)
    lines = []
    for line in verdicts[-count:] + errors:  # the trace's errors last: a usage text may precede them
        if line not in lines:
            lines.append(line)
    return lines[-count:]


def parse_ls(stdout):
    """Entries of a `pfs ls` listing, and its total in 512-byte units (None if absent)."""
    entries, total = [], None
    for line in stdout.splitlines():
        match = _LS_LINE.match(line)
        if match:
            kind, links, size, mtime, name = match.groups()
            entries.append(PfsEntry(kind, int(links), int(size), mtime, name))
            continue
        match = _LS_TOTAL.match(line.strip())
        if match:
            total = int(match.group(1))
    return entries, total


def parse_mkfs(stdout):
    """Size and chunk count from 'Inited filesystem(21474836480 bytes), 2 chunks, ...'."""
    match = _MKFS_DONE.search(stdout)
    if not match:
        return dict(size_bytes=None, chunks=None)
    return dict(size_bytes=int(match.group(1)), chunks=int(match.group(2)))


def parse_info(stdout):
    """Chunk count from `pfs info`: the nchild of the first blktag allocnode.

    Inferred from one recording (20 GiB disk: 2 chunks, nchild=2, nall 5120 =
    2 x 2560 blktags per chunk); None when the output does not have that shape.
    """
    match = _INFO_CHUNKS.search(stdout)
    return dict(chunks=int(match.group(1)) if match else None)


def pfs_argument_spec():
    return dict(cluster=dict(type='str', default='disk'), pfs_path=dict(type='path'))


def needs_root_hint(args, result):
    """Why a write failed when not run as root, else None.

    As another user, `cp` says `Input/output error`; `mkdir` and `rm` exit 255 and say nothing.
    """
    output = (result.stdout + result.stderr).strip()
    failed_for_rights = IO_ERROR in output or (result.rc == RC_FAILED and not output)
    if args and args[0] in WRITE_COMMANDS and failed_for_rights and os.geteuid() != 0:
        return ('pfs %s opens the disk read-write, which needs root; this ran as uid %d: run it as root '
                '(become without become_user)' % (args[0], os.geteuid()))
    return None


def ensure_run_dir(path=None):
    path = path or RUN_DIR
    if not os.path.isdir(path):
        os.makedirs(path)
        os.chmod(path, 0o777)  # as PFS's own installer leaves it: every client writes its lock there


def _missing(result):
    return result.rc == RC_FAILED and NO_SUCH_FILE in result.stdout + result.stderr


class Pfs(object):
    """`pfs -C CLUSTER ...` through module.run_command, with argument lists only."""

    def __init__(self, module, cluster='disk', pfs_path=None):
        self.module = module
        self.cluster = cluster
        self.binary = pfs_path or module.get_bin_path('pfs', required=True, opt_dirs=['/usr/local/bin'])

    def run(self, args, check_rc=False):
        argv = [self.binary, '-C', self.cluster] + list(args)
        if args and args[0] in WRITE_COMMANDS:
            ensure_run_dir()
        rc, stdout, stderr = self.module.run_command(argv)
        result = PfsResult(argv, rc, stdout, stderr)
        if check_rc and rc != 0:
            raise PfsError(result, needs_root_hint(args, result))
        return result

    def is_formatted(self, disk):
        result = self.run(['ls', '/%s/' % disk])
        if result.rc == 0:
            return True
        if result.rc == RC_NOT_FORMATTED:
            return False
        raise PfsError(result, 'cannot tell whether %s holds PFS' % disk)

    def ls(self, path):
        result = self.run(['ls', path])
        if result.rc == 0:
            return parse_ls(result.stdout)[0]
        if _missing(result):
            return None
        raise PfsError(result)

    def exists(self, path):
        result = self.run(['stat', path])
        if result.rc == 0:
            return True
        if _missing(result):
            return False
        raise PfsError(result)

    def mkdir(self, path, exist_ok=True):
        """True when the directory was created."""
        result = self.run(['mkdir', path])
        if result.rc == 0:
            return True
        if exist_ok and result.rc == RC_FAILED and FILE_EXISTS in result.stdout + result.stderr:
            return False
        raise PfsError(result, needs_root_hint(['mkdir'], result))

    def cp_r(self, local_src, pfs_dest_dir):
        # pfs overwrites an earlier copy file by file and exits 0
        return self.run(['cp', '-r', local_src, pfs_dest_dir], check_rc=True)

    def rm(self, path, recursive=False, missing_ok=True):
        """True when something was removed."""
        result = self.run(['rm'] + (['-r'] if recursive else []) + [path])
        if result.rc == 0:
            return True
        if missing_ok and _missing(result):
            return False
        # 'rm failed: impl specific' is what pfs says for a directory without -r
        raise PfsError(result, needs_root_hint(['rm'], result)
                       or (None if recursive else 'a directory needs recursive=True'))

    def empty(self, path, remove_dir=False):
        """Remove what path holds (and path itself when remove_dir); a missing path is empty."""
        if remove_dir:
            self.rm(path, recursive=True, missing_ok=True)
            return
        for entry in self.ls(path) or []:
            self.rm('%s/%s' % (path, entry.name), recursive=True, missing_ok=True)

    def size(self, path):
        """Bytes in the files under path (0 when it is missing)."""
        total = 0
        for entry in self.ls(path) or []:
            child = '%s/%s' % (path, entry.name)
            total += self.size(child) if entry.kind == 'Dir' else entry.size
        return total

    def info(self, disk):
        return parse_info(self.run(['info', disk], check_rc=True).stdout)

    def mkfs(self, disk, force=False):
        """Format disk; -f only when force (it destroys an existing PFS)."""
        result = self.run(['mkfs'] + (['-f'] if force else []) + [disk])
        if result.rc != 0:
            raise PfsError(result, MKFS_HINTS.get(result.rc))
        return parse_mkfs(result.stdout)
