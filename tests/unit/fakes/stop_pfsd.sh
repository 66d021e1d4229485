#!/usr/bin/env python3
"""Fake stop_pfsd.sh NAME, replaying tests/unit/recordings/pfsd.txt:
'pfsdaemon -p NAME stop success' (exit 0) when the fake daemon runs; for a stopped
daemon (SIGSTOP, it ignores the script's SIGINT) 'going to kill -9 pfsdaemon -p NAME'
first; 'pfsdaemon -p NAME not exist' (exit 1) when none runs. The pid file stays
behind, as the real daemon leaves it.
Not recorded: with state stop_ignored it says success but the daemon stays up.
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
        if daemon.get('stopped'):
            print('going to kill -9 pfsdaemon -p %s' % name)
        else:
            pfs_state.log(state, name, [('INFO', 'pfsd_main.cc:142', '[pfsd]pthread_join 0'),
                                        ('INFO', 'pfsd_main.cc:148', '[pfsd]bye bye')])
        print('pfsdaemon -p %s stop success' % name)
        if not state.get('stop_ignored'):
            del state['daemons'][name]
            pfs_state.hide_daemon(state, name, daemon['pid'])
        rc = 0
    pfs_state.write_state(path, state)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
