"""State shared by the fake `pfs`, `start_pfsd.sh` and `stop_pfsd.sh` (a JSON file named by
the environment variable FAKE_PFS_STATE), plus helpers for tests.

State file format::

    {
      "disks": {                      # disks that exist as /dev/NAME
        "nvme2n1": {
          "size": 21474836480,        # bytes; below 10 GiB mkfs fails with exit 234
          "formatted": true,          # holds PFS (ls /NAME/ exits 0, not 5)
          "foreign": null,            # e.g. "ext4": another filesystem, silently wiped by mkfs
          "files": {                  # PFS tree, paths relative to /NAME/, no leading slash
            ".pfs-paxos": {"kind": "File", "size": 4194304, "mtime": "Wed Nov 25 03:11:31 2026"},
            "sd": {"kind": "Dir", "mtime": "..."},
            "sd/base/1/f": {"kind": "File", "size": 0, "mtime": "..."}
          }
        }
      },
      "daemons": {"nvme2n1": {"pid": 50, "workers": 1}},   # running pfsdaemons
      "next_pid": 50,                 # pid given to the next daemon
      "cmd_record": true,             # print 'pfs tool cmd record:...' for mkfs and cp
      "proc_root": null,              # if set, daemons also appear as PROC_ROOT/PID/cmdline
      "run_dir": null,                # if set, daemons also get RUN_DIR/pfsd_NAME.pid
      "log_dir": null,                # if set, daemons log to LOG_DIR/pfsd-NAME/pfsd.log
      "daemon_crashes": false,        # start_pfsd.sh says success but no daemon stays up
      "stop_ignored": false,          # stop_pfsd.sh says success but the daemon stays up
      "calls": [["pfs", "-C", "disk", "ls", "/nvme2n1/"], ...]   # every invocation, appended
    }

Tests: `install(fake_bin)` symlinks the fakes, `make_state(path, disks={'nvme2n1': disk(...)})`
writes the state, set FAKE_PFS_STATE to it, and pass the module `pfs_path=str(fake_bin / 'pfs')`:
get_bin_path searches /usr/local/bin (where a real pfs may live) BEFORE PATH.
`read_state(path)['disks'][NAME]['files']` and `calls(path, 'pfs')` show what happened.

A Dir's size in listings is 128 bytes per entry, as in the recordings; `ls` lists
in the order of the keys in "files" (creation order).
"""
import json
import os
import time

FAKES_DIR = os.path.dirname(os.path.abspath(__file__))
GIB = 1024 ** 3
PFSD_HOME_BIN = '/usr/local/polarstore/pfsd/bin'


def now():
    return time.strftime('%a %b %e %H:%M:%S %Y')


def formatted_files(mtime=None):
    """The two files a fresh PFS holds."""
    mtime = mtime or now()
    return {'.pfs-paxos': {'kind': 'File', 'size': 4194304, 'mtime': mtime},
            '.pfs-journal': {'kind': 'File', 'size': 1073741824, 'mtime': mtime}}


def disk(size=20 * GIB, formatted=False, foreign=None, files=None):
    files_ = formatted_files() if formatted else {}
    for path, entry in (files or {}).items():
        files_[path] = dict(entry, mtime=entry.get('mtime') or now())
    return {'size': size, 'formatted': formatted, 'foreign': foreign, 'files': files_}


def write_state(path, state):
    with open(str(path), 'w') as handle:
        json.dump(state, handle, indent=1)  # key order is listing order


def read_state(path):
    with open(str(path)) as handle:
        state = json.load(handle)
    for key, default in (('disks', {}), ('daemons', {}), ('calls', []), ('next_pid', 50), ('cmd_record', True)):
        state.setdefault(key, default)
    return state


def make_state(path, disks=None, dev_dir=None, **extra):
    """Write a state file; with dev_dir, also create an empty DEV_DIR/NAME per disk."""
    state = {'disks': disks or {}, 'daemons': {}, 'calls': [], 'next_pid': 50, 'cmd_record': True}
    state.update(extra)
    for key in ('proc_root', 'run_dir', 'log_dir'):
        if state.get(key):
            state[key] = str(state[key])
            os.makedirs(state[key], exist_ok=True)
    if dev_dir:
        os.makedirs(str(dev_dir), exist_ok=True)
        for name in state['disks']:
            open(os.path.join(str(dev_dir), name), 'a').close()
    write_state(path, state)
    return state


def install(bin_dir, names=('pfs', 'start_pfsd.sh', 'stop_pfsd.sh')):
    """Symlink the fakes into bin_dir (symlinks, so they find this module)."""
    for name in names:
        link = os.path.join(str(bin_dir), name)
        if not os.path.lexists(link):
            os.symlink(os.path.join(FAKES_DIR, name), link)
    return bin_dir


def calls(path, program=None):
    """Recorded argv lists, optionally only those of one program ('pfs', 'start_pfsd.sh', ...)."""
    return [argv for argv in read_state(path)['calls']
            if program is None or os.path.basename(argv[0]) == program]


# ---- used by the fakes themselves -------------------------------------------------

def daemon_argv(name, workers):
    return ['%s/../bin/pfsdaemon' % PFSD_HOME_BIN, '-p', name, '-w', str(workers),
            '-c', '%s/../conf/pfsd_logger.conf' % PFSD_HOME_BIN]


def show_daemon(state, name, pid, workers):
    """Make a daemon visible in the fake /proc and run dir."""
    if state.get('proc_root'):
        os.makedirs(os.path.join(state['proc_root'], str(pid)), exist_ok=True)
        with open(os.path.join(state['proc_root'], str(pid), 'cmdline'), 'wb') as handle:
            handle.write(b'\0'.join(a.encode() for a in daemon_argv(name, workers)) + b'\0')
    if state.get('run_dir'):
        with open(os.path.join(state['run_dir'], 'pfsd_%s.pid' % name), 'w') as handle:
            handle.write('%d\n' % pid)


def hide_daemon(state, name, pid):
    if state.get('proc_root'):
        folder = os.path.join(state['proc_root'], str(pid))
        for entry in os.listdir(folder) if os.path.isdir(folder) else []:
            os.remove(os.path.join(folder, entry))
        if os.path.isdir(folder):
            os.rmdir(folder)
    if state.get('run_dir'):
        pidfile = os.path.join(state['run_dir'], 'pfsd_%s.pid' % name)
        if os.path.exists(pidfile):
            os.remove(pidfile)


def add_process(proc_root, pid, argv):
    """A fake /proc entry for any process (for example a look-alike of a daemon)."""
    os.makedirs(os.path.join(str(proc_root), str(pid)), exist_ok=True)
    with open(os.path.join(str(proc_root), str(pid), 'cmdline'), 'wb') as handle:
        handle.write(b'\0'.join(a.encode() for a in argv) + b'\0')


def log(state, name, lines):
    if state.get('log_dir'):
        folder = os.path.join(state['log_dir'], 'pfsd-%s' % name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, 'pfsd.log'), 'a') as handle:
            handle.writelines(line + '\n' for line in lines)
