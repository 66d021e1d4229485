# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way a line of a libpq password file (.pgpass) is written."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

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
