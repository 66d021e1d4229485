# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way a line of a libpq password file (.pgpass) is written."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: pgpass_entry
version_added: 0.2.0
author: polardb.cluster contributors (@polardb-cluster)
short_description: A line of a libpq password file (.pgpass)
description:
  - Joins host, port, database, user and password with C(:) as libpq reads a password file,
    escaping C(\) and C(:) in each field (C(\) first), so that a password holding them is
    read back whole. A field that is C(*) (the default of I(host), I(port) and I(database))
    stays a wildcard; a password of C(*) is escaped like any other.
  - Fails, without showing the value, on an empty field or one that holds a line break.
  - The line has no newline at its end.
positional: _input, user, port, host, database
options:
  _input:
    description: The password.
    type: str
    required: true
  user:
    description: The user it logs in.
    type: str
    required: true
  port:
    description: The server's port, or C(*).
    type: str
    default: '*'
  host:
    description: The server's host name or address, or C(*).
    type: str
    default: '*'
  database:
    description: The database (C(replication) for a replication connection), or C(*).
    type: str
    default: '*'
'''

EXAMPLES = r'''
secret: "{{ polardb_replication_password | polardb.cluster.pgpass_entry(polardb_replication_user, polardb_port) }}\n"
# 'se:cr\et' for replicator on 5432 -> '*:5432:*:replicator:se\:cr\\et'
'''

RETURN = r'''
_value:
  description: The line, without its newline.
  type: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

WILDCARD = '*'


def pgpass_escape(value):
    """VALUE as a .pgpass field: libpq ends a field at an unescaped ':' and drops a lone '\\'."""
    # The backslash first: else the backslashes added before ':' would be doubled too.
    return to_text(value).replace('\\', '\\\\').replace(':', '\\:')


def pgpass_entry(password, user, port=WILDCARD, host=WILDCARD, database=WILDCARD):
    """HOST:PORT:DATABASE:USER:PASSWORD, each field escaped, '*' left a wildcard; no newline."""
    fields = []
    for name, value in (('host', host), ('port', port), ('database', database), ('user', user),
                        ('password', password)):
        text = '' if value is None else to_text(value)
        # The value is never shown: the password may be the one with the fault.
        if not text:
            raise AnsibleFilterError('pgpass_entry: the %s is empty; a password file line needs all five fields.'
                                     % name)
        if '\n' in text or '\r' in text:
            raise AnsibleFilterError('pgpass_entry: the %s holds a line break, which a password file (.pgpass) '
                                     'cannot hold: choose one without.' % name)
        fields.append(text if text == WILDCARD and name != 'password' else pgpass_escape(text))
    return ':'.join(fields)


class FilterModule(object):
    def filters(self):
        return {'pgpass_entry': pgpass_entry}
