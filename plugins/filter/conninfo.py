# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one builder of a follower's connection string (primary_conninfo)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: conninfo
version_added: 0.3.0
author: polardb.cluster contributors (@polardb-cluster)
short_description: A libpq connection string, quoted for postgresql.conf
description:
  - >-
    Joins libpq parameters as C(key=value) pairs in the order given, leaving out empty values.
    A value with anything but letters, digits and C(_.,:/@+=-) is put in single quotes, with
    backslashes and single quotes escaped as libpq reads them.
  - >-
    With O(conf) (the default) the whole is a postgresql.conf string, in single quotes, each
    single quote inside doubled, ready for C(primary_conninfo = ...).
positional: _input
options:
  _input:
    description: libpq parameters (C(host), C(port), C(user), C(passfile), C(application_name), C(sslmode), ...).
    type: dict
    required: true
  conf:
    description: Quote the result as a postgresql.conf string.
    type: bool
    default: true
'''

EXAMPLES = r'''
# primary_conninfo = 'host=10.0.0.1 port=5432 user=replicator application_name=pb3'
setting: "primary_conninfo = {{ {'host': '10.0.0.1', 'port': 5432, 'user': 'replicator', 'application_name': 'pb3'} | polardb.cluster.conninfo }}"
'''

RETURN = r'''
_value:
  description: The connection string.
  type: str
'''

import re

from ansible.errors import AnsibleFilterError

PLAIN = re.compile(r'^[A-Za-z0-9_.,:/@+=-]+$')
KEYWORD = re.compile(r'^[a-z_]+$')


def libpq_value(value):
    """A value as libpq reads it: bare when plain, else in single quotes with \\ and ' escaped."""
    text = str(value)
    if PLAIN.match(text):
        return text
    return "'" + text.replace('\\', '\\\\').replace("'", "\\'") + "'"


def conninfo(params, conf=True):
    """key=value pairs in the order given, empty values left out; with conf, quoted as a
    postgresql.conf string (the whole in single quotes, each inner one doubled)."""
    if not isinstance(params, dict):
        raise AnsibleFilterError('conninfo expects a dict of libpq parameters, got %r' % (params,))
    pairs = []
    for key, value in params.items():
        if not isinstance(key, str) or not KEYWORD.match(key):
            raise AnsibleFilterError('conninfo: %r is not a libpq parameter name' % (key,))
        if value is None or str(value) == '':
            continue
        pairs.append('%s=%s' % (key, libpq_value(value)))
    text = ' '.join(pairs)
    return "'" + text.replace("'", "''") + "'" if conf else text


class FilterModule(object):
    def filters(self):
        return {'conninfo': conninfo}
