# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rule that names a follower's replication slot after its host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: slot_name
version_added: 0.2.0
author: polardb.cluster contributors (@polardb-cluster)
short_description: The replication slot name of a host
description:
  - Lower-cases a host name and replaces every character other than C(a-z), C(0-9)
    and C(_) with C(_), keeping at most 63 characters, the form PostgreSQL allows
    for a replication slot.
positional: _input
options:
  _input:
    description: An inventory host name.
    type: str
    required: true
'''

EXAMPLES = r'''
slot: "{{ inventory_hostname | polardb.cluster.slot_name }}"   # pb-3.example -> pb_3_example
'''

RETURN = r'''
_value:
  description: The slot name.
  type: str
'''

import re

from ansible.errors import AnsibleFilterError


def slot_name(hostname):
    if not isinstance(hostname, str) or not hostname:
        raise AnsibleFilterError('slot_name expects a host name, got %r' % (hostname,))
    return re.sub(r'[^a-z0-9_]', '_', hostname.lower())[:63]


class FilterModule(object):
    def filters(self):
        return {'slot_name': slot_name}
