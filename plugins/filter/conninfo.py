# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one builder of a follower's connection string (primary_conninfo)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

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
