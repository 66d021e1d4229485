# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is wrong with an inventory's cluster, found before any host changes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: cluster_problems
version_added: 0.3.0
author: polardb.cluster contributors (@polardb-cluster)
short_description: What is wrong with an inventory's cluster
description:
  - Checks the shape of the cluster before any host changes, and says for each problem which
    group or variable to fix.
  - A host in more than one of the groups C(primary), C(replica), C(standby); a group C(primary)
    without exactly one host; slot names that are not valid or that two hosts share (C(pb-3) and
    C(pb_3) map to one slot and one C(application_name)); an empty replication password; a
    C(polardb_primary) that is not a host of the inventory.
positional: _input, slots, passwords, primaries
options:
  _input:
    description: The inventory's groups (C(groups)).
    type: dict
    required: true
  slots:
    description: Each cluster host's C(polardb_slot_name).
    type: dict
    required: true
  passwords:
    description: Each cluster host's C(polardb_replication_password).
    type: dict
    required: true
  primaries:
    description: Each cluster host's C(polardb_primary).
    type: dict
    required: true
'''

EXAMPLES = r'''
problems: "{{ groups | polardb.cluster.cluster_problems(slots, passwords, primaries) }}"
'''

RETURN = r'''
_value:
  description: One sentence per problem; empty when the cluster is sound.
  type: list
  elements: str
'''

import re

from ansible.errors import AnsibleFilterError
from ansible_collections.polardb.cluster.plugins.filter.slot_name import slot_name

ROLES = ('primary', 'replica', 'standby')
SLOT = re.compile(r'^[a-z0-9_]{1,63}$')


def cluster_problems(groups, slots, passwords, primaries):
    """Sentences naming each problem and the variable or group to fix; [] when there is none.

    groups: the inventory's groups; slots, passwords, primaries: per host of the cluster, its
    polardb_slot_name (None: derived from its name, as the roles do), polardb_replication_password
    and polardb_primary.
    """
    if not isinstance(groups, dict):
        raise AnsibleFilterError('cluster_problems expects the groups of the inventory, got %r' % (groups,))
    problems = []
    members = {}
    for role in ROLES:
        for host in groups.get(role) or []:
            members.setdefault(host, []).append(role)
    for host, roles in sorted(members.items()):
        if len(roles) > 1:
            problems.append('%s is in groups %s: a host is exactly one of primary, replica or standby; '
                            'leave it in one group' % (host, ' and '.join(roles)))
    primary_group = groups.get('primary') or []
    if len(primary_group) != 1:
        problems.append('group primary holds %s: it must hold exactly one host'
                        % (', '.join(primary_group) if primary_group else 'no host'))
    owners = {}
    for host in sorted(slots):
        slot = slots[host] if slots[host] is not None else slot_name(host)
        if not isinstance(slot, str) or not SLOT.match(slot):
            problems.append('polardb_slot_name of %s is %r: it must be 1 to 63 lower-case letters, digits or '
                            'underscores' % (host, slot))
        owners.setdefault(slot, []).append(host)
    for slot, hosts in sorted(owners.items(), key=lambda item: str(item[0])):
        if len(hosts) > 1:
            problems.append('%s all get the replication slot and application_name %s, so the primary would count '
                            'one\'s stream as the other\'s: set polardb_slot_name of all but one of them'
                            % (' and '.join(hosts), slot))
    empty = sorted(host for host, password in passwords.items() if password is None or str(password) == '')
    if empty:
        problems.append('polardb_replication_password is empty for %s: set it in the inventory (vault it), the '
                        'password followers replicate with' % ', '.join(empty))
    known = set(groups.get('all') or []) | set(members)
    unknown = {}
    for host, primary in sorted(primaries.items()):
        if primary not in known:
            unknown.setdefault(str(primary), []).append(host)
    for primary, hosts in sorted(unknown.items()):
        problems.append('polardb_primary is %r for %s, which is not a host of the inventory: name the '
                        'primary\'s inventory host (by default the first of group primary)' % (primary, ', '.join(hosts)))
    return problems


class FilterModule(object):
    def filters(self):
        return {'cluster_problems': cluster_problems}
