#!/usr/bin/env python3
"""Fake start_pfsd.sh: replays the recorded outputs of
/usr/local/polarstore/pfsd/bin/start_pfsd.sh -p NAME -w N [other options].

State in FAKE_PFS_STATE (see pfs_state.py). Like the real script it
- refuses with 'NAME already exist' + usage (exit 1) when its grep would match:
  a running fake daemon, or ANY process in the fake /proc (state proc_root) whose
  command line holds both 'pfsdaemon' and the word NAME;
- "succeeds" for a disk that does not exist (the daemon keeps running);
- with state daemon_crashes, says success but the daemon is gone at once (its
  log says why).
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
        print('option workers %d\noption pbdname %s\noption server id 0\n'
              'option logconf %s/../conf/pfsd_logger.conf\nstarting pfsd[%d] %s\n'
              'pfsdaemon %s start success' % (workers, name, HOME, pid, name, name))
        pfs_state.log(state, name, ['pfsd %s starting with %d workers, pid %d' % (name, workers, pid)])
        if state.get('daemon_crashes'):
            pfs_state.log(state, name, ['[PFSD] ERR open /dev/%s failed: No such file or directory' % name,
                                        'pfsd exit'])
        else:
            state['daemons'][name] = {'pid': pid, 'workers': workers}
            pfs_state.show_daemon(state, name, pid, workers)
        rc = 0
    pfs_state.write_state(path, state)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
