# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loop devices seen from a host or a container.

Loop devices belong to the kernel and are shared by every container; a
container sees all of them in /sys/block but only has the /dev/loopN nodes
somebody created in its own /dev. losetup only reports devices that have a
node, so a node-less device is inspected through a temporary node in a
private folder, which is removed again: looking changes nothing.
Attachments are matched by the backing file's device and inode, because
the backing file's name depends on the mount namespace that attached it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import shutil
import stat
import tempfile

LIST_COLUMNS = 'NAME,BACK-INO,BACK-MAJ:MIN,DIO'
DEV_ROOT, SYS_ROOT = '/dev', '/sys'  # tests point these at fake trees
ATTACH_ATTEMPTS = 5


def parse_losetup_list(text):
    """`losetup -l -J -O NAME,BACK-INO,BACK-MAJ:MIN,DIO` JSON.

    Unattached devices have null inode and maj:min; older util-linux prints
    numbers as strings and dio as "1"/"0"; maj:min comes space-padded."""
    found = []
    for entry in json.loads(text or '{}').get('loopdevices', []):
        inode, devno = entry.get('back-ino'), entry.get('back-maj:min')
        found.append({'device': entry['name'],
                      'inode': int(inode) if inode not in (None, '') else None,
                      'devno': devno.strip() if devno and devno.strip() else None,
                      'dio': entry.get('dio') in (True, 1, '1')})
    return found


def devno_string(st_dev):
    return '%d:%d' % (os.major(st_dev), os.minor(st_dev))


def _read(path, default=None):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return default


def kernel_loops(sys_root='/sys'):
    """{kname: {'devno': 'MAJ:MIN', 'attached': bool}} for every loop device of the kernel."""
    block = os.path.join(sys_root, 'block')
    found = {}
    for kname in os.listdir(block) if os.path.isdir(block) else []:
        if re.match(r'^loop\d+$', kname):
            found[kname] = {'devno': _read(os.path.join(block, kname, 'dev')),
                            'attached': os.path.isdir(os.path.join(block, kname, 'loop'))}
    return found


def sysfs_state(kname, sys_root='/sys'):
    """Direct I/O flag and capacity in bytes of an attached loop device."""
    base = os.path.join(sys_root, 'block', kname)
    sectors = _read(os.path.join(base, 'size'), '0')
    return {'dio': _read(os.path.join(base, 'loop', 'dio')) == '1',
            'size': int(sectors) * 512,
            'offset': int(_read(os.path.join(base, 'loop', 'offset'), '0')),
            'sizelimit': int(_read(os.path.join(base, 'loop', 'sizelimit'), '0'))}


def node_matches(path, devno):
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISBLK(st.st_mode) and devno_string(st.st_rdev) == devno


def make_node(path, devno):
    major, minor = (int(part) for part in devno.split(':'))
    os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(major, minor))


class LoopNodes(object):
    """Usable node paths for kernel loop devices: /dev/loopN when it is the
    right node, else a temporary one, removed on exit."""

    def __init__(self, dev_root=None, sys_root=None):
        self.dev_root, self.sys_root = dev_root or DEV_ROOT, sys_root or SYS_ROOT
        self.kernel = kernel_loops(self.sys_root)
        self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def dev_path(self, kname):
        return os.path.join(self.dev_root, kname)

    def has_dev_node(self, kname):
        return node_matches(self.dev_path(kname), self.kernel[kname]['devno'])

    def path(self, kname):
        if self.has_dev_node(kname):
            return self.dev_path(kname)
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix='.loop_device-', dir=self.dev_root)
        probe = os.path.join(self._tmp, kname)
        if not os.path.exists(probe):
            make_node(probe, self.kernel[kname]['devno'])
        return probe


def find_attachments(module, losetup, image_stat, nodes):
    """Attached loop devices whose backing file is image_stat's inode."""
    wanted_devno, found = devno_string(image_stat.st_dev), []
    for kname in sorted(nodes.kernel, key=lambda name: int(name[4:])):
        if not nodes.kernel[kname]['attached']:
            continue
        path = nodes.path(kname)
        rc, out, err = module.run_command([losetup, '-l', '-J', '-O', LIST_COLUMNS, path])
        if rc != 0:
            module.fail_json(msg='losetup -l %s failed (exit %d): %s' % (path, rc, err.strip()))
        for entry in parse_losetup_list(out):
            if entry['inode'] == image_stat.st_ino and entry['devno'] == wanted_devno:
                found.append(kname)
    return found


def attach(module, losetup, image, direct_io, nodes):
    """Attach image to the first free loop device; return its kernel name.

    losetup -f only names a free device (another attacher may take it
    first, then attaching fails with "busy" and we ask again)."""
    error = ''
    for attempt in range(ATTACH_ATTEMPTS):
        rc, out, err = module.run_command([losetup, '-f'])
        if rc != 0:
            module.fail_json(msg='losetup -f found no free loop device (exit %d): %s' % (rc, err.strip()))
        kname = os.path.basename(out.strip())
        nodes.kernel = kernel_loops(nodes.sys_root)
        devno = nodes.kernel.get(kname, {}).get('devno') or '7:%s' % kname[4:]
        node = nodes.dev_path(kname)
        if not node_matches(node, devno):
            if os.path.lexists(node):
                module.fail_json(msg='%s exists but is not the block device %s: remove it' % (node, devno))
            make_node(node, devno)
        rc, out, error = module.run_command(
            [losetup, '--direct-io=%s' % ('on' if direct_io else 'off'), node, image])
        if rc == 0:
            nodes.kernel = kernel_loops(nodes.sys_root)
            return kname
        if 'busy' not in error.lower():
            break
    module.fail_json(msg='Attaching %s to a loop device failed: %s' % (image, error.strip()))


def alias_state(alias):
    """('missing'|'symlink'|'other', symlink target or None)."""
    if not os.path.lexists(alias):
        return 'missing', None
    if os.path.islink(alias):
        return 'symlink', os.readlink(alias)
    return 'other', None


def replace_symlink(target, alias):
    """Point alias at target atomically (rename over whatever is there)."""
    tmp = '%s.loop_device-%d' % (alias, os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.rename(tmp, alias)
