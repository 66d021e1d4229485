#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: warn
short_description: Print a warning that shows in the run's summary
version_added: 0.2.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Emits I(msg) as an Ansible warning (C([WARNING]:) on the console, in the
    warnings of the task's result) instead of an ordinary C(debug) line.
  - Runs on the controller; it never changes anything.
options:
  msg:
    description: The warning.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Warns the same way in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
'''

EXAMPLES = r'''
- name: Say that a follower's entry stays as it is
  polardb.cluster.warn:
    msg: pb3 cannot be resolved now; its pg_hba.conf entry stays as it is
'''

RETURN = r'''
msg:
  description: The warning.
  returned: always
  type: str
'''
