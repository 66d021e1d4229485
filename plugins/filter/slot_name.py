# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rule that names a follower's replication slot after its host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError


def slot_name(hostname):
    if not isinstance(hostname, str) or not hostname:
        raise AnsibleFilterError('slot_name expects a host name, got %r' % (hostname,))
    return re.sub(r'[^a-z0-9_]', '_', hostname.lower())[:63]


class FilterModule(object):
    def filters(self):
        return {'slot_name': slot_name}
