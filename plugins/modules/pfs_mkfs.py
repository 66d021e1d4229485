#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: pfs_mkfs
short_description: Format a disk with the PolarDB File System (PFS)
version_added: 0.1.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Formats C(/dev/DISK) with C(pfs -C CLUSTER mkfs DISK) unless it already holds PFS.
  - PFS itself only looks for its own magic and silently wipes a disk holding another
    filesystem (ext4 for example). This module looks for foreign signatures with
    C(wipefs)/C(blkid) first and refuses unless I(force=true).
  - PFS needs a disk of at least 10 GiB (10737418240 bytes, which formats); a smaller
    disk is refused before C(mkfs) runs.
  - A disk that already holds PFS is left alone; only I(reformat=true) formats it
    again. I(force) never does; it only lets C(mkfs) overwrite a foreign filesystem,
    after which the disk holds PFS and later runs change nothing.
  - Never formats while a C(pfsdaemon) serves the disk, or a process (a database whose pfsd
    was stopped under it) still uses it, on this host or, for a shared disk, on any host
    named in I(shared_with).
extends_documentation_fragment:
  - polardb.cluster.pfs
options:
  disk:
    description:
      - PFS disk name, the device node name under C(/dev) (for example C(nvme2n1), a
        symlink to a loop device made with M(polardb.cluster.loop_device)).
      - A name, not a path; names containing C(/) are rejected.
    type: str
    required: true
  force:
    description:
      - Format a disk that holds another filesystem or a partition table (destroys it).
      - Has no effect on a disk that already holds PFS; see I(reformat).
    type: bool
    default: false
  reformat:
    description:
      - Format a disk that already holds PFS again, destroying every file on it.
      - Formats on every run it is set, so give it once (C(-e)), never leave it in an inventory.
      - Still refused while a C(pfsdaemon) serves the disk; stop it with M(polardb.cluster.pfsd) first.
    type: bool
    default: false
  shared_with:
    description:
      - The other hosts that attach the same disk (a primary's read-only replicas), each
        with what M(polardb.cluster.pfsd_info) found there. pfsd and the database of another
        host cannot be seen from this one, and formatting under them destroys their data.
      - Only read when the disk would be formatted. Formatting is then refused while any of
        them has a pfsdaemon for the disk or a process using it, and when any of them could
        not be asked (I(answered=false)), since a host that did not answer is not a host without pfsd.
    type: list
    elements: dict
    default: []
    version_added: 0.3.0
    suboptions:
      host:
        description: The host's name, for the messages.
        type: str
        required: true
      answered:
        description: Whether the host was reached and M(polardb.cluster.pfsd_info) succeeded there.
        type: bool
        required: true
      pid:
        description: The I(pid) M(polardb.cluster.pfsd_info) returned there.
        type: int
      clients:
        description: The I(clients) M(polardb.cluster.pfsd_info) returned there.
        type: list
        elements: str
        default: []
      error:
        description: Why the host could not be asked, when it was not.
        type: str
        default: ""
  pfsd_run_dir:
    description:
      - Run directory of pfsd, holding C(pfsd_DISK.pid); used to cross-check the
        running-daemon check made from C(/proc).
    type: path
    default: /var/run/pfsd
attributes:
  check_mode:
    support: full
    description:
      - Checks the disk, its signatures and pfsd read-only and reports whether it
        would format, with the geometry predicted from the device size.
  diff_mode:
    support: full
    description: Shows whether the disk held PFS and which signatures, before and after formatting.
notes:
  - I(chunks) and I(size_bytes) come from the C(mkfs) output when the disk is formatted
    now, from C(pfs info) (its allocnode C(nchild)) when it already was, and are
    predicted from the device size (whole 10 GiB chunks) in check mode.
seealso:
  - module: polardb.cluster.pfsd
'''

EXAMPLES = r'''
- name: Format the standby's shared disk (a symlink /dev/nvme2n1 -> /dev/loop2)
  polardb.cluster.pfs_mkfs:
    disk: nvme2n1

- name: Format a disk that holds an ext4 filesystem nobody needs (destroys it)
  polardb.cluster.pfs_mkfs:
    disk: nvme2n1
    force: true

- name: Start over on a disk that holds an old PFS (destroys every file on it)
  polardb.cluster.pfs_mkfs:
    disk: nvme2n1
    reformat: true

- name: Ask the replicas sharing the primary's disk whether they use it
  polardb.cluster.pfsd_info:
    disk: nvme1n1
  delegate_to: "{{ item }}"
  loop: "{{ groups['replica'] }}"
  become: true
  register: sharers
  ignore_unreachable: true
  failed_when: false

- name: Format the shared disk from the primary only when none of them does
  polardb.cluster.pfs_mkfs:
    disk: nvme1n1
    shared_with: "{{ sharers.results | polardb.cluster.pfsd_findings }}"
'''

RETURN = r'''
disk:
  description: The disk name.
  returned: always
  type: str
  sample: nvme2n1
formatted_before:
  description: Whether the disk held PFS before the module ran.
  returned: always
  type: bool
formatted:
  description: Whether the disk holds PFS now (in check mode, would hold).
  returned: always
  type: bool
device_bytes:
  description: Size of C(/dev/DISK) in bytes.
  returned: always
  type: int
  sample: 21474836480
size_bytes:
  description: Size of the PFS filesystem in bytes (whole 10 GiB chunks); null when unknown.
  returned: always
  type: int
  sample: 21474836480
chunks:
  description: Number of 10 GiB PFS chunks; null when unknown.
  returned: always
  type: int
  sample: 2
signatures:
  description:
    - Foreign signatures found on the device before formatting (C(wipefs)/C(blkid)).
    - Not looked for (empty) when the disk already holds PFS.
  returned: always
  type: list
  elements: dict
  sample: [{type: ext4, usage: filesystem, offset: 1080}]
forced:
  description: Whether C(mkfs -f) was (or in check mode would be) used.
  returned: always
  type: bool
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.polardb.cluster.plugins.module_utils.blockdev import device_size, signatures
from ansible_collections.polardb.cluster.plugins.module_utils.pfs import (
    PFS_CHUNK_BYTES, PFS_MIN_DISK_BYTES, Pfs, PfsError, parse_info, pfs_argument_spec)
from ansible_collections.polardb.cluster.plugins.module_utils.process import find_pfsd_clients, find_pfsdaemon

DEV_DIR = '/dev'
PROC_ROOT = '/proc'


def main():
    argument_spec = pfs_argument_spec()
    argument_spec.update(
        disk=dict(type='str', required=True),
        force=dict(type='bool', default=False),
        reformat=dict(type='bool', default=False),
        pfsd_run_dir=dict(type='path', default='/var/run/pfsd'),
        shared_with=dict(type='list', elements='dict', default=[], options=dict(
            host=dict(type='str', required=True),
            answered=dict(type='bool', required=True),
            pid=dict(type='int'),
            clients=dict(type='list', elements='str', default=[]),
            error=dict(type='str', default=''),
        )),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    disk, force, reformat = module.params['disk'], module.params['force'], module.params['reformat']
    if not disk or '/' in disk or disk in ('.', '..'):
        module.fail_json(msg="disk must be a device name under /dev such as 'nvme2n1', not %r" % disk)
    device = os.path.join(DEV_DIR, disk)
    if not os.path.exists(device):
        module.fail_json(msg='%s does not exist: create the loop device and its alias first '
                             '(for example with polardb.cluster.loop_device)' % device)

    pfs = Pfs(module, module.params['cluster'], module.params['pfs_path'])
    result = dict(changed=False, disk=disk, forced=False, size_bytes=None, chunks=None, signatures=[])
    try:
        result['device_bytes'] = device_size(device)
    except OSError as exc:
        module.fail_json(msg='Cannot read the size of %s (%s): is it a block device this user may open?'
                             % (device, exc), **result)
    try:
        result['formatted_before'] = result['formatted'] = pfs.is_formatted(disk)
        if result['formatted'] and not reformat:
            result.update(_known_geometry(_info_chunks(pfs, disk)))
            module.exit_json(**result)

        result['signatures'] = found = [] if result['formatted'] else signatures(module, device)

        _refuse_unsafe(module, device, result, found, force)
        result.update(changed=True, formatted=True, forced=result['formatted_before'] or bool(found))
        if module._diff:
            result['diff'] = dict(
                before=dict(formatted=result['formatted_before'], signatures=[s['type'] for s in found]),
                after=dict(formatted=True, signatures=[], wiped=result['forced']))
        if module.check_mode:
            result.update(_known_geometry(result['device_bytes'] // PFS_CHUNK_BYTES))
            module.exit_json(**result)

        made = pfs.mkfs(disk, force=result['forced'])
        result.update(chunks=made['chunks'], size_bytes=made['size_bytes'])
        if not pfs.is_formatted(disk):
            module.fail_json(msg='pfs mkfs %s reported success but ls /%s/ still finds no PFS' % (disk, disk),
                             **result)
    except PfsError as exc:
        module.fail_json(msg=str(exc), rc=exc.result.rc, stdout=exc.result.stdout,
                         stderr=exc.result.stderr, **result)
    module.exit_json(**result)


def _info_chunks(pfs, disk):
    # geometry is only informative here: an unreadable `pfs info` must not fail a no-op
    answer = pfs.run(['info', disk])
    return parse_info(answer.stdout)['chunks'] if answer.rc == 0 else None


def _known_geometry(chunks):
    return dict(chunks=chunks, size_bytes=chunks * PFS_CHUNK_BYTES if chunks is not None else None)


def _refuse_unsafe(module, device, result, found, force):
    disk = result['disk']
    size = result['device_bytes']
    if size < PFS_MIN_DISK_BYTES:
        module.fail_json(msg='%s has %d bytes (%.1f GiB); PFS needs at least %d bytes (10 GiB): '
                             'use a bigger (sparse) image file'
                             % (device, size, size / 1024.0 ** 3, PFS_MIN_DISK_BYTES), **result)
    if found and not force:
        kinds = ', '.join('%s (%s)' % (s['type'], s.get('usage') or 'unknown use') for s in found)
        module.fail_json(msg='%s holds %s; pfs mkfs would silently destroy it. Set force=true if that '
                             'data may go' % (device, kinds), **result)
    daemon = find_pfsdaemon(disk, PROC_ROOT, module.params['pfsd_run_dir'])
    if daemon.trouble():
        module.warn(daemon.trouble())
    if daemon.running:
        module.fail_json(msg='pfsdaemon (pid %d) serves %s: formatting a mounted PFS is refused; stop it first '
                             '(polardb.cluster.pfsd state=stopped)' % (daemon.pid, disk), **result)
    clients = find_pfsd_clients(disk, PROC_ROOT, module.params['pfsd_run_dir'])
    if clients:
        module.fail_json(msg='%d process(es) use %s (%s): formatting it would destroy their data under them; '
                             'stop them first (the database on the disk)'
                             % (len(clients), disk, '; '.join('pid %d: %s' % c for c in clients[:5])), **result)
    _refuse_shared_in_use(module, disk, result)


def _refuse_shared_in_use(module, disk, result):
    """Every other host attaching the disk must have been asked, and use it nowhere."""
    unasked, busy = [], []
    for host in module.params['shared_with']:
        if not host['answered']:
            unasked.append('%s (%s)' % (host['host'], host['error'] or 'no answer'))
        elif host['pid'] is not None or host['clients']:
            found = (['pfsdaemon pid %d serves it' % host['pid']] if host['pid'] is not None else []) + \
                ['in use by %s' % client for client in host['clients'][:5]]
            busy.append('%s: %s' % (host['host'], ', '.join(found)))
    if busy:
        module.fail_json(msg='%s is shared, and formatting it is refused while another host uses it: %s. Stop the '
                             'databases and pfsd there first.' % (disk, '; '.join(busy)), **result)
    if unasked:
        module.fail_json(msg='%s is shared, and formatting it is refused while a host sharing it cannot be asked '
                             'whether it uses it: %s. Bring it back (or take it out of the inventory once its '
                             'disk is detached) and run again.' % (disk, '; '.join(unasked)), **result)


if __name__ == '__main__':
    main()
