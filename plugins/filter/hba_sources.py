# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pg_hba.conf sources (one host-sized CIDR per address) of a follower."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: hba_sources
version_added: 0.2.0
author: polardb.cluster contributors (@polardb-cluster)
short_description: The pg_hba.conf sources of a follower, one per address
description:
  - Turns a follower's addresses into host-sized CIDRs (C(/32) for IPv4, C(/128)
    for IPv6), each once. IP literals are taken as given; host names count by
    the addresses C(getent ahosts) printed for them (the first field of each line).
  - The companion filter C(host_names) keeps the entries that are names, the ones
    to pass to C(getent ahosts).
positional: _input, resolved
options:
  _input:
    description: Addresses and host names of the follower.
    type: list
    elements: str
    required: true
  resolved:
    description: Output lines of C(getent ahosts) for the names among them.
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
sources: "{{ ['192.0.2.7', '2001:db8::7'] | polardb.cluster.hba_sources }}"   # ['192.0.2.7/32', '2001:db8::7/128']
names: "{{ ['pb3', '192.0.2.7'] | polardb.cluster.host_names }}"               # ['pb3']
'''

RETURN = r'''
_value:
  description: The CIDRs, in the order met.
  type: list
  elements: str
'''

import ipaddress

from ansible.errors import AnsibleFilterError


def literal_address(value):
    """The ip_address of value when it is an IP literal, else None."""
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None


def host_cidr(address):
    return '%s/%d' % (address.compressed, address.max_prefixlen)


def as_list(addresses):
    return [addresses] if isinstance(addresses, (str, bytes)) else list(addresses or ())


def host_names(addresses):
    """The entries of addresses that are names, which need resolving."""
    return [str(value).strip() for value in as_list(addresses) if literal_address(value) is None]


def hba_sources(addresses, resolved=()):
    """One /32 or /128 per address: literals as given, names by `getent ahosts` lines.

    Literals are never looked up: a host without IPv6 configured (most
    containers) cannot resolve even an IPv6 literal.
    """
    addresses = as_list(addresses)
    if not addresses:
        raise AnsibleFilterError('hba_sources expects at least one address or host name')
    sources = []
    for value in addresses:
        address = literal_address(value)
        if address is not None and host_cidr(address) not in sources:
            sources.append(host_cidr(address))
    for line in resolved or ():
        fields = str(line).split()
        address = literal_address(fields[0]) if fields else None
        if address is not None and host_cidr(address) not in sources:
            sources.append(host_cidr(address))
    return sources


def subject_alt_names(addresses):
    """What a certificate names: IP:... for IP literals, DNS:... for names, each once."""
    names = []
    for value in as_list(addresses):
        value = str(value).strip()
        address = literal_address(value)
        name = 'IP:%s' % address.compressed if address is not None else 'DNS:%s' % value
        if value and name not in names:
            names.append(name)
    if not names:
        raise AnsibleFilterError('subject_alt_names expects at least one address or host name')
    return names


class FilterModule(object):
    def filters(self):
        return {'hba_sources': hba_sources, 'host_names': host_names,
                'subject_alt_names': subject_alt_names}
