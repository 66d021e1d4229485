# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' path rule (module_utils/paths.py) for the roles' variables."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: path_problems
version_added: 0.2.0
author: polardb.cluster contributors (@polardb-cluster)
short_description: What is wrong with each of the paths a role would manage
description:
  - The rule of C(polardb.cluster.path_problem) for each of a mapping of variable names to paths, so that
    a role checks all its paths in one task and names each variable that is wrong.
positional: _input
options:
  _input:
    description: Variable names and their paths.
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Check the standby's paths
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join(' ') }}"
  vars:
    problems: "{{ {'standby_data_dir': standby_data_dir} | polardb.cluster.path_problems }}"
'''

RETURN = r'''
_value:
  description: One message per wrong path, in the mapping's order; empty when all may be used.
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.polardb.cluster.plugins.module_utils.paths import path_problem as _path_problem


def _text(value):
    # Templated values arrive as str subclasses; None and numbers are reported as they are.
    return to_text(value) if isinstance(value, str) else value


def path_problem(path, name):
    """What is wrong with PATH, set as NAME, or '' when nothing is."""
    return _path_problem(_text(path), to_text(name)) or ''


def path_problems(paths):
    """The problems of a mapping of variable names to paths, in its order."""
    if not isinstance(paths, dict):
        raise AnsibleFilterError('path_problems expects a mapping of variable names to paths, got %r' % (paths,))
    problems = []
    for name, path in paths.items():
        problem = _path_problem(_text(path), to_text(name))
        if problem:
            problems.append(problem)
    return problems


class FilterModule(object):
    def filters(self):
        return {'path_problem': path_problem, 'path_problems': path_problems}
