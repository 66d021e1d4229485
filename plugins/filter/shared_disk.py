# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the hosts that share one PFS disk (a primary and its replicas) are laid out.

PolarDB checks none of it: a replica started with the primary's polar_hostid
mounts, streams and serves, and two writers on one disk destroy it. So the
collection derives the host ids once and checks them, and the disk name.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: shared_disk
version_added: 0.2.0
author: polardb.cluster contributors (@polardb-cluster)
short_description: Host ids and disk names of the hosts that share one PFS disk
description:
  - For a primary and its read-only replicas on one PFS disk, gives each host its
    C(polar_hostid) (its C(polardb_host_id) when the inventory sets one, else the
    primary 1, the replicas 2, 3, ...) and the name it gives the disk, and lists
    what is wrong. PolarDB itself accepts two hosts with the same id on one disk.
positional: _input, hostvars, default_alias
options:
  _input:
    description: The hosts sharing the disk, the primary first.
    type: list
    elements: str
    required: true
  hostvars:
    description: The play's C(hostvars).
    type: dict
    required: true
  default_alias:
    description: The disk alias of a host whose inventory sets no C(polardb_disk_alias).
    type: str
    required: true
'''

EXAMPLES = r'''
layout: "{{ ['pb1', 'pb2'] | polardb.cluster.shared_disk(hostvars, '/dev/nvme1n1') }}"
# {'host_ids': {'pb1': 1, 'pb2': 2}, 'aliases': {...}, 'problems': []}
'''

RETURN = r'''
_value:
  description: C(host_ids) and C(aliases) by host, and C(problems), sentences naming the hosts.
  type: dict
'''

from ansible.errors import AnsibleFilterError


def _value(hostvars, host, name, default):
    try:
        value = hostvars[host].get(name)
    except (KeyError, TypeError):
        value = None
    return default if value is None else value


def shared_disk(hosts, hostvars, default_alias):
    """{'host_ids': {host: id}, 'aliases': {host: alias}, 'problems': [sentence, ...]}.

    hosts: the primary first, then its replicas. A host's polardb_host_id and
    polardb_disk_alias come from the inventory when set there, else the
    primary gets 1, the replicas 2, 3, ... and every host default_alias.
    """
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('shared_disk expects a list of hosts, got %r' % (hosts,))
    host_ids, aliases, problems = {}, {}, []
    for index, host in enumerate(hosts):
        raw = _value(hostvars, host, 'polardb_host_id', index + 1)
        try:
            host_ids[host] = int(raw)
        except (TypeError, ValueError):
            problems.append('%s has polardb_host_id %r, which is not a number' % (host, raw))
            continue
        aliases[host] = _value(hostvars, host, 'polardb_disk_alias', default_alias)
    seen = {}
    for host in hosts:
        if host not in host_ids:
            continue
        other = seen.setdefault(host_ids[host], host)
        if other != host:
            problems.append('%s and %s both have polardb_host_id %d; hosts sharing a disk need distinct ids'
                            % (other, host, host_ids[host]))
    first = hosts[0] if hosts else None
    for host in hosts[1:]:
        if host in aliases and aliases[host] != aliases.get(first):
            problems.append('%s names the shared disk %s but %s names it %s; every host sharing it must '
                            'use the same name' % (first, aliases.get(first), host, aliases[host]))
    return dict(host_ids=host_ids, aliases=aliases, problems=problems)


def pfsd_findings(results):
    """The shared_with of pfs_mkfs, from the registered results of pfsd_info looped over the other hosts.

    A host that was unreachable, or where pfsd_info failed, did not answer: its
    entry says so, and pfs_mkfs refuses to format rather than guess.
    """
    if not isinstance(results, list):
        raise AnsibleFilterError('pfsd_findings expects the results list of a looped pfsd_info task, got %r'
                                 % (results,))
    findings = []
    for result in results:
        if not isinstance(result, dict):
            raise AnsibleFilterError('pfsd_findings expects dicts, got %r' % (result,))
        host = result.get('item')
        answered = not result.get('unreachable') and not result.get('skipped') and 'in_use' in result
        findings.append(dict(host=str(host), answered=answered,
                             pid=result.get('pid') if answered else None,
                             clients=list(result.get('clients') or []) if answered else [],
                             error='' if answered else str(result.get('msg') or 'no answer')))
    return findings


class FilterModule(object):
    def filters(self):
        return {'shared_disk': shared_disk, 'pfsd_findings': pfsd_findings}
