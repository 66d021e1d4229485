# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  cluster:
    description:
      - PFS storage cluster name, passed to the PFS tool as C(pfs -C CLUSTER).
      - C(disk) is the cluster of a local block device (loop device or disk), as in
        PolarDB's C(polar_storage_cluster_name='disk').
    type: str
    default: disk
  pfs_path:
    description:
      - Path of the C(pfs) tool.
      - Leave unset to look for C(pfs) in C(/usr/local/bin), then on C(PATH).
    type: path
notes:
  - PFS names a disk by its device name (for example C(nvme2n1)) and opens it as C(/dev/NAME).
'''
