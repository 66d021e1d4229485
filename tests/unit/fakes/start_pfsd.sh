#!/usr/bin/env python3
"""Fake start_pfsd.sh: replays the outputs of
/usr/local/polarstore/pfsd/bin/start_pfsd.sh -p NAME -w N [other options]
recorded in tests/unit/recordings/pfsd.txt (test_fakes_match_recordings.py
checks them).

State in FAKE_PFS_STATE (see pfs_state.py). Like the real script it
- says 'pfsdaemon NAME start success' on stdout, while the daemon's 'option ...'
  and 'starting pfsd[PID] NAME' lines come on stderr;
- leaves a daemon whose pid file names its parent (pid - 1, no newline), that
  keeps the file open as fd 3 with an flock on it (fake /proc, state proc_root);
- refuses with 'NAME already exist' + usage (exit 1) when its grep would match:
  a fake daemon (running or stopped), or ANY process in the fake /proc whose
  command line holds both 'pfsdaemon' and the word NAME;
- "succeeds" for a disk that does not exist (the daemon keeps running).
Not recorded: with state daemon_crashes it says success but the daemon is gone
at once (its log says why, in lines of the fake's own); with state daemon_hangs
the daemon stays, stopped (as after SIGSTOP, which was recorded): it serves nobody.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import pfs_state  # noqa: E402

HOME = pfs_state.PFSD_HOME_BIN
USAGE = """[start_pfsd.sh] usage: 
          sudo %s/start_pfsd.sh -p DISKNAME [other options]
example:
          sudo %s/start_pfsd.sh -p nvme1n1
logger location:
          /var/log/pfsd-DISKNAME/pfsd.log""" % (HOME, HOME)


def grep_matches(state, name):
    word = re.compile(r'(?<!\w)%s(?!\w)' % re.escape(name))
    root = state.get('proc_root')
    for pid in os.listdir(root) if root else []:
        try:
            with open(os.path.join(root, pid, 'cmdline'), 'rb') as handle:
                line = handle.read().replace(b'\0', b' ').decode()
        except OSError:
            continue
        if 'pfsdaemon' in line and word.search(line):
            return True
    return False


def main(argv):
    path = os.environ['FAKE_PFS_STATE']
    state = pfs_state.read_state(path)
    state['calls'].append(['start_pfsd.sh'] + argv)
    name = argv[argv.index('-p') + 1] if '-p' in argv[:-1] else None
    workers = int(argv[argv.index('-w') + 1]) if '-w' in argv[:-1] else 1
    if name is None:
        print(USAGE)
        rc = 1
    elif name in state['daemons'] or grep_matches(state, name):
        print('%s already exist' % name)
        print(USAGE)
        rc = 1
    else:
        pid = state['next_pid']
        state['next_pid'] = pid + 1
        sys.stderr.write('option workers %d\noption pbdname %s\noption server id 0\n'
                         'option logconf %s/../conf/pfsd_logger.conf\nstarting pfsd[%d] %s\n'
                         % (workers, name, HOME, pid, name))
        print('pfsdaemon %s start success' % name)
        pfs_state.log(state, name, [
            ('INFO', 'pfsd_main.cc:101', 'starting pfsd[%d] %s' % (pid, name)),
            ('INFO', 'pfsd_shm.cc:134', 'total pfsd_shm 324.012M'),
            ('INFO', 'pfsd_chnl_shm.cc:912', 'prepare done 0, notify listen thread'),
            ('INFO', 'pfsd_chnl_shm.cc:391', 'listen thread start working.')])
        if state.get('daemon_crashes'):
            pfs_state.write_pid_file(state, name, pid)
            pfs_state.log(state, name, ['[PFSD] ERR open /dev/%s failed: No such file or directory' % name,
                                        'pfsd exit'])
        else:
            state['daemons'][name] = {'pid': pid, 'workers': workers, 'stopped': bool(state.get('daemon_hangs'))}
            pfs_state.show_daemon(state, name, pid, workers)
        rc = 0
    pfs_state.write_state(path, state)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
