# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only questions about a block device: size, signatures, users."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import stat


def device_size(path):
    """Size in bytes of a block device or regular file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def _parse_blkid_export(text):
    values = dict(line.split('=', 1) for line in text.splitlines() if '=' in line)
    found = []
    if values.get('TYPE'):
        found.append({'type': values['TYPE'], 'usage': values.get('USAGE', ''),
                      'offset': _int_or_none(values.get('SBMAGIC_OFFSET'))})
    if values.get('PTTYPE'):
        found.append({'type': values['PTTYPE'], 'usage': 'partition table',
                      'offset': _int_or_none(values.get('PTMAGIC_OFFSET'))})
    return found


def _parse_wipefs_json(text):
    if not text.strip():
        return []
    return [{'type': entry.get('type') or 'unknown', 'usage': entry.get('usage') or '',
             'offset': _int_or_none(entry.get('offset'))}
            for entry in json.loads(text).get('signatures', [])]


def _int_or_none(value):
    if value is None or value == '':
        return None
    if isinstance(value, int):
        return value
    return int(str(value), 0)


def signatures(module, path):
    """Foreign signatures (filesystems, RAID members, partition tables) on path.

    wipefs lists every magic it knows with its offset; blkid -p adds what
    wipefs may not report. blkid exit 2 means it found nothing, exit 8 that
    it found several conflicting ones (wipefs then lists them).
    """
    found = []
    wipefs = module.get_bin_path('wipefs')
    if wipefs:
        rc, out, err = module.run_command([wipefs, '-n', '-J', '-O', 'TYPE,USAGE,OFFSET', path])
        if rc != 0:
            module.fail_json(msg='wipefs -n %s failed (exit %d): %s' % (path, rc, err.strip()))
        found = _parse_wipefs_json(out)
    blkid = module.get_bin_path('blkid')
    if blkid:
        rc, out, err = module.run_command([blkid, '-p', '-o', 'export', path])
        if rc == 0:
            known = set(entry['type'] for entry in found)
            found.extend(entry for entry in _parse_blkid_export(out) if entry['type'] not in known)
        elif rc == 8 and not found:
            found.append({'type': 'ambivalent', 'usage': 'several conflicting signatures (blkid -p exit 8)',
                          'offset': None})
        elif rc not in (2, 8):
            module.fail_json(msg='blkid -p %s failed (exit %d): %s' % (path, rc, err.strip()))
    if not wipefs and not blkid:
        module.fail_json(msg='Neither wipefs nor blkid is installed: cannot check %s for existing data '
                             '(install util-linux)' % path)
    return found


def _device_number(path):
    st = os.stat(path)
    if not stat.S_ISBLK(st.st_mode):
        raise ValueError('%s is not a block device' % path)
    return st.st_rdev


def _unescape_mountinfo(field):
    # mountinfo escapes space, tab, newline and backslash as \ooo
    out, i = [], 0
    while i < len(field):
        if field[i] == '\\' and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return ''.join(out)


def mount_points(path, mountinfo='/proc/self/mountinfo'):
    """Mount points (in this mount namespace) of the device at path."""
    rdev = _device_number(path)
    wanted = '%d:%d' % (os.major(rdev), os.minor(rdev))
    found = []
    with open(mountinfo) as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 4 and fields[2] == wanted:
                found.append(_unescape_mountinfo(fields[4]))
    return found


def kernel_name(path, sys_root='/sys'):
    """Kernel name (loop3) of the block device at path, whatever the node is called."""
    rdev = _device_number(path)
    link = os.path.join(sys_root, 'dev', 'block', '%d:%d' % (os.major(rdev), os.minor(rdev)))
    return os.path.basename(os.readlink(link))


def holders(path, sys_root='/sys'):
    """Devices stacked on top of path (device-mapper, md, ...)."""
    folder = os.path.join(sys_root, 'class', 'block', kernel_name(path, sys_root), 'holders')
    try:
        return sorted(os.listdir(folder))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise


def openers(path, proc_root='/proc'):
    """(pid, comm) of every visible process with path's device open."""
    target = os.stat(path)
    kind, rdev = stat.S_IFMT(target.st_mode), target.st_rdev
    found = []
    for name in os.listdir(proc_root):
        if not name.isdigit():
            continue
        fd_dir = os.path.join(proc_root, name, 'fd')
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue  # process gone, or not ours to look at
        for fd in fds:
            try:
                st = os.stat(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if stat.S_IFMT(st.st_mode) == kind and st.st_rdev == rdev:
                found.append((int(name), _comm(proc_root, name)))
                break
    return sorted(found)


def _comm(proc_root, pid):
    try:
        with open(os.path.join(proc_root, pid, 'comm')) as handle:
            return handle.read().strip()
    except OSError:
        return '?'


def exclusively_busy(path):
    """True when the kernel refuses an exclusive open: the device is mounted
    (in any mount namespace, other containers included) or claimed by a holder."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_EXCL)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return True
        raise
    os.close(fd)
    return False
