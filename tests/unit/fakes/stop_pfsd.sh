#!/usr/bin/env python3
"""Fake stop_pfsd.sh NAME: 'pfsdaemon -p NAME stop success' (exit 0) when the fake
daemon runs, 'pfsdaemon -p NAME not exist' (exit 1) when not, as recorded.
With state stop_ignored it says success but the daemon stays up.
State in FAKE_PFS_STATE (see pfs_state.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import pfs_state  # noqa: E402


def main(argv):
    path = os.environ['FAKE_PFS_STATE']
    state = pfs_state.read_state(path)
    state['calls'].append(['stop_pfsd.sh'] + argv)
    name = argv[-1] if argv else ''
    daemon = state['daemons'].get(name)
    if daemon is None:
        print('pfsdaemon -p %s not exist' % name)
        rc = 1
    else:
        print('pfsdaemon -p %s stop success' % name)
        if not state.get('stop_ignored'):
            del state['daemons'][name]
            pfs_state.hide_daemon(state, name, daemon['pid'])
        rc = 0
    pfs_state.write_state(path, state)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
