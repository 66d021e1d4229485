#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: loop_device
short_description: Back a block device by an image file through a loop device
version_added: 0.1.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Creates an image file when it is missing, attaches it to a loop device
    with direct I/O and keeps a stable alias symlink such as C(/dev/nvme2n1)
    pointing at that loop device.
  - An existing attachment is found by the image's inode, also when it was
    made from another container (which may name the file differently).
  - Works in containers that have C(/dev/loop-control) but no C(/dev/loopN)
    nodes (it creates the node of the device it uses), and again after a
    container restart, when the alias and the nodes are gone but the
    kernel still holds the attachment.
  - With I(state=absent) removes the alias and detaches the image's loop
    devices, refusing while one is mounted, held or open.
  - Holds an C(flock) on the image's folder while it decides and acts, so two runs
    at once (for example two containers sharing the folder) attach an image once.
options:
  image:
    description:
      - Path of the image file backing the device.
      - An absolute, normalised path (no C(.), C(..), repeated or trailing C(/)), outside the
        system folders (C(/etc), C(/usr), C(/dev), ...) and not a shared folder itself (C(/),
        C(/var/lib), C(/tmp), ...); anything else is refused before the module looks at it.
    type: path
    required: true
  size:
    description:
      - Size of the image, such as C(20G), C(10GiB), C(512M) or a number of
        bytes; C(G) means GiB. A positive multiple of 512 bytes.
      - Required when the image does not exist yet. An existing image of a
        different size is never truncated; see I(grow).
    type: str
  preallocate:
    description:
      - Allocate the blocks of a new image (or of the part added by I(grow))
        with posix_fallocate instead of creating a sparse file. The holes of
        an existing sparse image are left alone.
    type: bool
    default: false
  grow:
    description:
      - Extend an existing image smaller than I(size) and refresh the loop
        device's capacity. Images are never shrunk.
    type: bool
    default: false
  alias:
    description:
      - Symlink directly under C(/dev), such as C(/dev/nvme2n1), kept pointing
        at the loop device. A wrong symlink there is replaced; any other file
        only with I(force=true).
    type: path
  direct_io:
    description: Whether the loop device uses direct I/O on the image.
    type: bool
    default: true
  state:
    description:
      - C(present) creates, attaches and aliases; C(absent) removes the alias
        and detaches.
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With I(state=present), replace a file at I(alias) that is not a symlink.
      - With I(state=absent), detach even when the device is mounted, held or
        open (the kernel then detaches it once the last user is gone).
    type: bool
    default: false
  remove_image:
    description: With I(state=absent), also delete the image file.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Inspects the image, the loop devices and the alias and reports what would change.
  diff_mode:
    support: full
    description: Shows the device, the alias target, direct I/O and the image size before and after.
notes:
  - Loop devices not backed by I(image) are never detached.
  - Only mounts and processes visible from where the module runs are named;
    a mount in another container is still detected (the kernel refuses an
    exclusive open), a process in another container holding the device open is not.
  - In check mode, a node-less device is inspected through a temporary node
    in a private folder under C(/dev) that is removed again.
requirements:
  - losetup (util-linux) with JSON output, Linux with loop device support
'''

EXAMPLES = r'''
- name: Disk for the standby, reachable as /dev/nvme2n1
  polardb.cluster.loop_device:
    image: /data/VirtualDisk_standby.img
    size: 20G
    alias: /dev/nvme2n1

- name: Detach it and delete the image
  polardb.cluster.loop_device:
    image: /data/VirtualDisk_standby.img
    alias: /dev/nvme2n1
    state: absent
    remove_image: true
'''

RETURN = r'''
device:
  description: Loop device backed by the image (null when absent, or in check mode before attaching).
  returned: always
  type: str
  sample: /dev/loop1
alias:
  description: The alias symlink, as given.
  returned: always
  type: str
  sample: /dev/nvme2n1
image:
  description: The image file.
  returned: always
  type: str
  sample: /data/VirtualDisk_standby.img
size_bytes:
  description: Size of the image in bytes (null when it does not exist).
  returned: always
  type: int
  sample: 21474836480
direct_io:
  description: Whether the device uses direct I/O (null when not attached).
  returned: always
  type: bool
created:
  description: Whether this run created the image.
  returned: always
  type: bool
attached:
  description: Whether this run attached the image to a loop device.
  returned: always
  type: bool
actions:
  description: What was (or in check mode would be) done.
  returned: always
  type: list
  elements: str
  sample: [attach /data/VirtualDisk_standby.img, symlink /dev/nvme2n1 -> /dev/loop1]
'''

import contextlib
import fcntl
import os
import re
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.formatters import human_to_bytes
from ansible_collections.polardb.cluster.plugins.module_utils import blockdev, loop
from ansible_collections.polardb.cluster.plugins.module_utils.paths import path_problem


def parse_size(module, text):
    # human_to_bytes knows 10G and 10GB (both GiB) but not 10GiB
    normalized = re.sub(r'(?i)^\s*([\d.]+\s*[kmgtpezy])ib\s*$', r'\1B', str(text))
    try:
        size = human_to_bytes(normalized)
    except ValueError:
        module.fail_json(msg='size=%s is not a size such as 20G, 10GiB, 512M or a number of bytes' % text)
    if size <= 0 or size % 512:
        module.fail_json(msg='size=%s is %d bytes: it must be a positive multiple of 512' % (text, size))
    return size


def write_size(path, old_size, new_size, preallocate, create=False):
    flags = os.O_WRONLY | (os.O_CREAT | os.O_EXCL if create else 0)
    fd = os.open(path, flags, 0o600)
    try:
        if preallocate:
            os.posix_fallocate(fd, old_size, new_size - old_size)
        else:
            os.ftruncate(fd, new_size)
    except OSError:
        if create:
            os.unlink(path)
        raise
    finally:
        os.close(fd)


class LoopDevice(object):
    def __init__(self, module, nodes):
        self.module, self.nodes = module, nodes
        self.params = module.params
        self.image = module.params['image']
        self.losetup = module.get_bin_path('losetup', required=True)
        self.actions = []

    def act(self, description, func, *args):
        self.actions.append(description)
        if not self.module.check_mode:
            return func(*args)

    def losetup_run(self, *args):
        rc, out, err = self.module.run_command([self.losetup] + list(args))
        if rc != 0:
            self.module.fail_json(msg='losetup %s failed (exit %d): %s' % (' '.join(args), rc, err.strip()))

    def image_stat(self):
        try:
            st = os.stat(self.image)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            self.module.fail_json(msg='image %s exists but is not a regular file' % self.image)
        return st

    def attachments(self, st):
        return loop.find_attachments(self.module, self.losetup, st, self.nodes) if st else []

    def alias_points_to(self, kname):
        kind, target = loop.alias_state(self.params['alias'])
        return kind == 'symlink' and self.resolve(target) == self.nodes.dev_path(kname)

    def resolve(self, target):
        return os.path.normpath(os.path.join(self.nodes.dev_root, target))

    def alias_before(self):
        if not self.params['alias']:
            return None
        kind, target = loop.alias_state(self.params['alias'])
        return {'missing': None, 'symlink': target, 'other': '(not a symlink)'}[kind]

    def ensure_image(self, st, size):
        """Returns (image size, created)."""
        if st is None:
            if size is None:
                self.module.fail_json(msg='image %s does not exist: give size to create it' % self.image)
            parent = os.path.dirname(self.image)
            if not os.path.isdir(parent):
                self.module.fail_json(msg='cannot create %s: folder %s does not exist (create it first)'
                                      % (self.image, parent))
            self.act('create %s of %d bytes' % (self.image, size),
                     write_size, self.image, 0, size, self.params['preallocate'], True)
            return size, True
        if size is None or size == st.st_size:
            return st.st_size, False
        if size < st.st_size:
            self.module.fail_json(msg='image %s is %d bytes, larger than size=%s (%d bytes): images are never '
                                      'shrunk' % (self.image, st.st_size, self.params['size'], size))
        if not self.params['grow']:
            self.module.fail_json(msg='image %s is %d bytes, smaller than size=%s (%d bytes); grow: true extends '
                                      'it' % (self.image, st.st_size, self.params['size'], size))
        self.act('grow %s from %d to %d bytes' % (self.image, st.st_size, size),
                 write_size, self.image, st.st_size, size, self.params['preallocate'])
        return size, False

    def present(self):
        alias = self.params['alias']
        size = parse_size(self.module, self.params['size']) if self.params['size'] else None
        if alias:
            self.refuse_alias_conflict()
        st = self.image_stat()
        before = {'device': None, 'alias_target': self.alias_before(), 'direct_io': None,
                  'image_size': st.st_size if st else None}
        image_size, created = self.ensure_image(st, size)
        knames = self.attachments(st)
        # several attachments of one image: keep the one the alias names
        kname = next((k for k in knames if alias and self.alias_points_to(k)), knames[0] if knames else None)
        attached, direct_io = kname is None, self.params['direct_io']
        if kname is None:
            kname = self.act('attach %s' % self.image, loop.attach, self.module, self.losetup,
                             self.image, direct_io, self.nodes)
        else:
            before['device'] = self.nodes.dev_path(kname)
            self.update_device(kname, image_size, before)
        if not self.module.check_mode:
            direct_io = self.verify_direct_io(kname)
        device = self.nodes.dev_path(kname) if kname else None
        shown = device or '(new loop device)'  # check mode does not pick a free device
        if alias:
            self.ensure_alias(shown)
        after = {'device': shown, 'alias_target': shown if alias else None,
                 'direct_io': direct_io, 'image_size': image_size}
        return dict(device=device, size_bytes=image_size, direct_io=direct_io,
                    created=created, attached=attached), before, after

    def update_device(self, kname, image_size, before):
        state = loop.sysfs_state(kname, self.nodes.sys_root)
        before['direct_io'] = state['dio']
        devno = self.nodes.kernel[kname]['devno']
        node = self.nodes.dev_path(kname)
        if not self.nodes.has_dev_node(kname):
            if os.path.lexists(node):
                self.module.fail_json(msg='%s exists but is not the block device %s: remove it' % (node, devno))
            self.act('create node %s (%s)' % (node, devno), loop.make_node, node, devno)
        want = self.params['direct_io']
        if state['dio'] != want:
            mode = 'on' if want else 'off'
            self.act('turn direct I/O %s for %s' % (mode, node), self.losetup_run, '--direct-io=' + mode, node)
        if not state['offset'] and not state['sizelimit'] and state['size'] != image_size:
            self.act('refresh capacity of %s (%d -> %d bytes)' % (node, state['size'], image_size),
                     self.losetup_run, '-c', node)

    def verify_direct_io(self, kname):
        dio = loop.sysfs_state(kname, self.nodes.sys_root)['dio']
        if self.params['direct_io'] and not dio:
            self.module.fail_json(msg='%s is attached to %s but the kernel did not enable direct I/O: the '
                                      'filesystem holding the image may not support O_DIRECT (tmpfs, some '
                                      'overlays) or has a larger block size; move the image or set '
                                      'direct_io: false' % (self.nodes.dev_path(kname), self.image))
        return dio

    def refuse_alias_conflict(self):
        alias = self.params['alias']
        if loop.alias_state(alias)[0] != 'other':
            return
        if os.path.isdir(alias):
            self.module.fail_json(msg='%s is a directory: cannot replace it with a symlink' % alias)
        if not self.params['force']:
            self.module.fail_json(msg='%s exists and is not a symlink (a real device or file?): refusing to '
                                      'replace it without force: true' % alias)

    def ensure_alias(self, device):
        alias = self.params['alias']
        kind, target = loop.alias_state(alias)
        if kind == 'symlink' and self.resolve(target) == device:
            return
        self.act('symlink %s -> %s' % (alias, device), loop.replace_symlink, device, alias)

    def absent(self):
        st = self.image_stat()
        knames = self.attachments(st)
        before = {'device': ', '.join(self.nodes.dev_path(k) for k in knames) or None,
                  'alias_target': self.alias_before(), 'direct_io': None,
                  'image_size': st.st_size if st else None}
        if knames:
            before['direct_io'] = loop.sysfs_state(knames[0], self.nodes.sys_root)['dio']
        after = dict(before, device=None, direct_io=None)
        for kname in knames:
            self.refuse_if_busy(kname)
        alias = self.params['alias']
        if alias and any(self.alias_points_to(k) for k in knames):
            self.act('remove symlink %s' % alias, os.unlink, alias)
            after['alias_target'] = None
        for kname in knames:
            self.act('detach %s' % self.nodes.dev_path(kname), self.losetup_run, '-d', self.nodes.path(kname))
        if knames and not self.module.check_mode:
            # the kernel defers detaching a device somebody still uses (force: true)
            kernel = loop.kernel_loops(self.nodes.sys_root)
            deferred = [k for k in knames if kernel.get(k, {}).get('attached')]
            if deferred:
                self.module.warn('%s stays attached until its last user closes it' % ', '.join(deferred))
        if st and self.params['remove_image']:
            self.act('remove %s' % self.image, os.unlink, self.image)
            after['image_size'] = None
        return dict(device=None, size_bytes=after['image_size'], direct_io=None,
                    created=False, attached=False), before, after

    def refuse_if_busy(self, kname):
        path = self.nodes.path(kname)
        reasons = []
        mounts = blockdev.mount_points(path)
        if mounts:
            reasons.append('mounted on ' + ', '.join(mounts))
        held = blockdev.holders(path, self.nodes.sys_root)
        if held:
            reasons.append('held by ' + ', '.join(held))
        users = blockdev.openers(path)
        if users:
            reasons.append('open by ' + ', '.join('%s (pid %d)' % (comm, pid) for pid, comm in users))
        if not mounts and not held and blockdev.exclusively_busy(path):
            reasons.append('in use by the kernel (mounted in another container or claimed exclusively)')
        if reasons and not self.params['force']:
            self.module.fail_json(msg='%s (backed by %s) is %s: stop its users first, or detach anyway with '
                                      'force: true' % (self.nodes.dev_path(kname), self.image, '; '.join(reasons)))


@contextlib.contextmanager
def folder_lock(image):
    """An flock on the image's folder while deciding and acting.

    Two runs at once (two containers sharing the folder, or two plays) could
    otherwise both see the image unattached and attach it twice. The folder,
    not the image, is locked: the image may not exist yet.
    """
    folder = os.path.dirname(image)
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield  # no folder: present() says so, absent() finds nothing to do
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type='path', required=True),
            size=dict(type='str'),
            preallocate=dict(type='bool', default=False),
            grow=dict(type='bool', default=False),
            alias=dict(type='path'),
            direct_io=dict(type='bool', default=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            force=dict(type='bool', default=False),
            remove_image=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    # Before anything is looked at: an image under /etc is no image of ours to grow or remove.
    problem = path_problem(module.params['image'], 'image')
    if problem:
        module.fail_json(msg=problem)
    alias = module.params['alias']
    if alias and os.path.dirname(os.path.normpath(alias)) != loop.DEV_ROOT:
        module.fail_json(msg='alias=%s must be directly under /dev, such as /dev/nvme2n1' % alias)
    try:
        with folder_lock(module.params['image']), loop.LoopNodes() as nodes:
            worker = LoopDevice(module, nodes)
            if module.params['state'] == 'present':
                result, before, after = worker.present()
            else:
                result, before, after = worker.absent()
    except OSError as exc:
        module.fail_json(msg='loop_device on %s: %s' % (module.params['image'], exc))
    result.update(changed=bool(worker.actions), actions=worker.actions, image=module.params['image'], alias=alias)
    if module._diff:
        result['diff'] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
