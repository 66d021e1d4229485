# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What pg_controldata says of a cluster, and whether that cluster ran as a primary."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

SYSTEM_IDENTIFIER = re.compile(r'^Database system identifier:\s*(\d+)\s*$', re.M)
CLUSTER_STATE = re.compile(r'^Database cluster state:\s*(.+?)\s*$', re.M)
CHECKPOINT_TIMELINE = re.compile(r"^Latest checkpoint's TimeLineID:\s*(\d+)\s*$", re.M)
# What pg_control says of a server that ran (or runs) as a primary: a standby
# says 'in archive recovery' or 'shut down in recovery'.
PRIMARY_STATES = ('in production', 'shut down', 'shutting down')


def parse_controldata(text):
    """dict(system_identifier, state, timeline) from pg_controldata's output (C locale); None where absent."""
    text = text or ''
    sysid, state = SYSTEM_IDENTIFIER.search(text), CLUSTER_STATE.search(text)
    timeline = CHECKPOINT_TIMELINE.search(text)
    return dict(system_identifier=sysid.group(1) if sysid else None,
                state=state.group(1) if state else None,
                timeline=int(timeline.group(1)) if timeline else None)


def promoted_copy(control, primary_timeline, recovery_files):
    """Why a cluster of the primary's own system is no longer a copy of it, else None.

    A promoted standby keeps the system identifier: its timeline (ahead of the
    primary's) or its state (a primary's, with neither standby.signal nor a
    backup label, recovery_files being which of them exist) tells it apart.
    """
    state, timeline = control.get('state'), control.get('timeline')
    ahead = timeline is not None and primary_timeline is not None and timeline > primary_timeline
    ran_as_primary = state in PRIMARY_STATES and not recovery_files
    if not (ahead or ran_as_primary):
        return None
    return 'it is on timeline %s (cluster state: %s), the primary on timeline %s' % (
        timeline, state, primary_timeline)
