"""State shared by the fake `pfs`, `start_pfsd.sh` and `stop_pfsd.sh` (a JSON file named by
the environment variable FAKE_PFS_STATE), plus helpers for tests.

The fakes replay the outputs recorded from the real tools in tests/unit/recordings
(test_fakes_match_recordings.py checks them against those transcripts).

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
      "daemons": {"nvme2n1": {"pid": 50, "workers": 1, "stopped": false}},   # running pfsdaemons
      "next_pid": 50,                 # pid of the next daemon (its pid file names next_pid - 1)
      "proc_root": null,              # if set, daemons also appear in a fake /proc: PROC_ROOT/PID/
                                      #   cmdline, fd/3 (a symlink to the pid file), fdinfo/3 (its flock)
      "run_dir": null,                # if set, daemons write RUN_DIR/pfsd_NAME.pid
      "log_dir": null,                # if set, daemons log to LOG_DIR/pfsd-NAME/pfsd.log
      "daemon_crashes": false,        # start_pfsd.sh says success but no daemon stays up
      "daemon_hangs": false,          # start_pfsd.sh leaves a daemon that is stopped from the start
      "stop_ignored": false,          # stop_pfsd.sh says success but the daemon stays up
      "calls": [["pfs", "-C", "disk", "ls", "/nvme2n1/"], ...]   # every invocation, appended
    }

A daemon marked "stopped" (stop_daemon(), as after SIGSTOP) still shows in /proc and
holds its lock, but serves nobody: `pfs` then reads the disk itself and pfsd's log
gains nothing, as recorded.

Environment read by the fake `pfs`:
    FAKE_PFS_NONROOT=1      run as a user other than root while /dev/NAME is root:root 0600
    FAKE_PFS_RUN_DIR=PATH   PFS's lock directory (the real one is /var/run/pfs): when it
                            does not exist, writes fail as recorded

Tests: `install(fake_bin)` symlinks the fakes, `make_state(path, disks={'nvme2n1': disk(...)})`
writes the state, set FAKE_PFS_STATE to it, and pass the module `pfs_path=str(fake_bin / 'pfs')`:
get_bin_path searches /usr/local/bin (where a real pfs may live) BEFORE PATH.
`read_state(path)['disks'][NAME]['files']` and `calls(path, 'pfs')` show what happened.

A Dir's size in listings is 128 bytes per entry, as in the recordings; `ls` lists
in the order of the keys in "files" (creation order).
"""
import json
import os
import shutil
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
    for key, default in (('disks', {}), ('daemons', {}), ('calls', []), ('next_pid', 50)):
        state.setdefault(key, default)
    return state


def make_state(path, disks=None, dev_dir=None, **extra):
    """Write a state file; with dev_dir, also create an empty DEV_DIR/NAME per disk."""
    state = {'disks': disks or {}, 'daemons': {}, 'calls': [], 'next_pid': 50}
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


def stop_daemon(path, name, stopped=True):
    """Make the running fake daemon of a disk stopped (as after SIGSTOP) or running again."""
    state = read_state(path)
    state['daemons'][name]['stopped'] = stopped
    write_state(path, state)


def serving(state, name):
    """Whether a fake daemon for the disk runs and answers its clients."""
    daemon = state['daemons'].get(name)
    return bool(daemon) and not daemon.get('stopped')


# ---- used by the fakes themselves -------------------------------------------------

def daemon_argv(name, workers):
    return ['%s/../bin/pfsdaemon' % PFSD_HOME_BIN, '-p', name, '-w', str(workers),
            '-c', '%s/../conf/pfsd_logger.conf' % PFSD_HOME_BIN]


def pid_file(state, name):
    return os.path.join(state['run_dir'], 'pfsd_%s.pid' % name)


def show_daemon(state, name, pid, workers):
    """Make a daemon visible in the fake /proc and run dir, as recorded.

    The pid file names the parent that wrote it before forking (pid - 1, no newline);
    the daemon keeps the file open as fd 3 and holds an flock on it.
    """
    write_pid_file(state, name, pid)
    if state.get('run_dir'):
        os.makedirs(os.path.join(state['run_dir'], name), exist_ok=True)   # where clients register
    if state.get('proc_root'):
        add_process(state['proc_root'], pid, daemon_argv(name, workers))
        folder = os.path.join(state['proc_root'], str(pid))
        os.makedirs(os.path.join(folder, 'fd'), exist_ok=True)
        os.makedirs(os.path.join(folder, 'fdinfo'), exist_ok=True)
        os.symlink('/dev/null', os.path.join(folder, 'fd', '0'))
        if state.get('run_dir'):
            os.symlink(pid_file(state, name), os.path.join(folder, 'fd', '3'))
            with open(os.path.join(folder, 'fdinfo', '3'), 'w') as handle:
                handle.write(fdinfo(pid_file(state, name)))


def write_pid_file(state, name, pid):
    """pfsdaemon writes its pid file before it forks: the file names the parent, pid - 1."""
    if state.get('run_dir'):
        with open(pid_file(state, name), 'w') as handle:
            handle.write('%d' % (pid - 1))


def fdinfo(path, locked=True):
    """/proc/PID/fdinfo/N of a read-write fd on path, with the daemon's flock."""
    info = os.stat(path)
    lines = ['pos:\t%d' % info.st_size, 'flags:\t02100002', 'mnt_id:\t367', 'ino:\t%d' % info.st_ino]
    if locked:
        lines.append('lock:\t1: FLOCK  ADVISORY  WRITE 0 %02x:%02x:%d 0 EOF'
                     % (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino))
    return '\n'.join(lines) + '\n'


def hide_daemon(state, name, pid):
    """The daemon is gone from the fake /proc; its pid file stays, as stop_pfsd.sh leaves it."""
    if state.get('proc_root'):
        shutil.rmtree(os.path.join(state['proc_root'], str(pid)), ignore_errors=True)


def add_process(proc_root, pid, argv):
    """A fake /proc entry for any process (for example a look-alike of a daemon)."""
    os.makedirs(os.path.join(str(proc_root), str(pid)), exist_ok=True)
    with open(os.path.join(str(proc_root), str(pid), 'cmdline'), 'wb') as handle:
        handle.write(b'\0'.join(a.encode() for a in argv) + b'\0')


def log_time():
    now_ = time.time()
    return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now_)) + '.%06d' % (now_ % 1 * 1e6)


def log(state, name, lines):
    """Append lines to pfsd's log; (LEVEL, 'file.cc:N', text) tuples get pfsd's own prefix."""
    if state.get('log_dir'):
        folder = os.path.join(state['log_dir'], 'pfsd-%s' % name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, 'pfsd.log'), 'a') as handle:
            for line in lines:
                if isinstance(line, tuple):
                    line = '%s|%-5s|%s|%s' % ((log_time(),) + line)
                handle.write(line + '\n')


def log_client(state, name, call=None):
    """What pfsd logs when it serves one client of a disk (lines of the recording)."""
    log(state, name, [('INFO', 'pfsd_chnl_shm.cc:58', 'mount successed for %s' % name),
                      ('INFO', 'pfsd_chnl_shm.cc:238', 'connect success result 1 for %s' % name)]
        + ([('INFO', 'pfsd_api.cc:768', call)] if call else [])
        + [('INFO', 'pfsd_chnl_shm.cc:351', 'umount %s success' % name)])
