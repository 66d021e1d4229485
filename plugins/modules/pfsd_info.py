#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: pfsd_info
short_description: Whether a pfsdaemon serves a PFS disk on this host, and which processes use the disk
version_added: 0.3.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Looks in C(/proc) for the C(pfsdaemon) serving a disk (a process whose executable is
    C(pfsdaemon) with C(-p DISK) in its arguments, as M(polardb.cluster.pfsd) does) and for
    the processes using the disk through pfsd (a database), those registered in
    C(RUN_DIR/DISK/) and those mapping the disk's pfsd shared memory. A database whose
    pfsd was stopped under it still counts.
  - Read-only. Meant to be asked on every host sharing a disk before one of them formats
    it (the I(shared_with) of M(polardb.cluster.pfs_mkfs)); the device need not exist.
  - Run it as root, so that every process's memory maps can be read.
options:
  disk:
    description:
      - PFS disk name, the device node name under C(/dev) (for example C(nvme1n1)).
    type: str
    required: true
  run_dir:
    description:
      - Run directory of pfsd, holding C(pfsd_DISK.pid) and the clients' C(DISK/PID.pid).
    type: path
    default: /var/run/pfsd
attributes:
  check_mode:
    support: full
    description: Reads C(/proc) and the run directory only, in check mode as in a normal run.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
seealso:
  - module: polardb.cluster.pfsd
  - module: polardb.cluster.pfs_mkfs
'''

EXAMPLES = r'''
- name: Ask every other host sharing the disk whether it uses it
  polardb.cluster.pfsd_info:
    disk: nvme1n1
  delegate_to: "{{ item }}"
  loop: "{{ groups['replica'] }}"
  become: true
  register: sharers
  ignore_unreachable: true
'''

RETURN = r'''
disk:
  description: The disk name.
  returned: always
  type: str
  sample: nvme1n1
pid:
  description: Process id of the pfsdaemon serving the disk, null when none runs.
  returned: always
  type: int
  sample: 50
pids:
  description: Every pfsdaemon process found for the disk (more than one is trouble).
  returned: always
  type: list
  elements: int
  sample: [50]
clients:
  description: The live processes using the disk through pfsd, each as C(pid N) and its command line.
  returned: always
  type: list
  elements: str
  sample: ["pid 812: /home/postgres/tmp_polardb_pg_15_base/bin/postgres -D /home/postgres/replica"]
in_use:
  description: Whether a pfsdaemon serves the disk or a process uses it.
  returned: always
  type: bool
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.polardb.cluster.plugins.module_utils.process import find_pfsd_clients, find_pfsdaemon

PROC_ROOT = '/proc'


def main():
    module = AnsibleModule(argument_spec=dict(
        disk=dict(type='str', required=True),
        run_dir=dict(type='path', default='/var/run/pfsd'),
    ), supports_check_mode=True)
    disk, run_dir = module.params['disk'], module.params['run_dir']
    if not disk or '/' in disk or disk in ('.', '..'):
        module.fail_json(msg="disk must be a device name under /dev such as 'nvme1n1', not %r" % disk)
    daemon = find_pfsdaemon(disk, PROC_ROOT, run_dir)
    clients = ['pid %d: %s' % client for client in find_pfsd_clients(disk, PROC_ROOT, run_dir)]
    module.exit_json(changed=False, disk=disk, pid=daemon.pid, pids=daemon.pids, clients=clients,
                     in_use=daemon.running or bool(clients))


if __name__ == '__main__':
    main()
