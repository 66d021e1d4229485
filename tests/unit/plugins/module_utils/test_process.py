import os
import pathlib
import shutil
import sys

from ansible_collections.polardb.cluster.plugins.module_utils.process import (
    find_lookalikes, find_pfsdaemon, holds_flock_on, iter_processes, workers_of)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'fakes'))
import pfs_state  # noqa: E402
import transcripts  # noqa: E402

# the daemon's command line as recorded (ps -eo pid,args)
DAEMON = pfs_state.daemon_argv('nvme2n1', 1)


def tree(tmp_path, processes, pidfile=None):
    proc, run = tmp_path / 'proc', tmp_path / 'run'
    proc.mkdir()
    run.mkdir()
    for pid, argv in processes.items():
        pfs_state.add_process(proc, pid, argv)
    if pidfile is not None:
        (run / 'pfsd_nvme2n1.pid').write_text(pidfile)
    return str(proc), str(run)


def test_iter_processes_skips_kernel_threads_zombies_and_non_pids(tmp_path):
    proc, _ = tree(tmp_path, {50: DAEMON, 7: ['sleep', 'infinity']})
    (tmp_path / 'proc' / '51').mkdir()
    (tmp_path / 'proc' / '51' / 'cmdline').write_bytes(b'')   # the recorded [pfsdaemon] <defunct>
    (tmp_path / 'proc' / '52').mkdir()                          # vanished: no cmdline
    (tmp_path / 'proc' / 'self').mkdir()
    assert list(iter_processes(proc)) == [(7, ['sleep', 'infinity']), (50, DAEMON)]
    assert list(iter_processes(str(tmp_path / 'nothing'))) == []


def recorded_daemon(tmp_path, pid=573):
    """The daemon as start_pfsd.sh leaves it (tests/unit/recordings/pfsd.txt): a pid file naming
    the parent (pid - 1), held open as fd 3 with an flock, as the fake start_pfsd.sh makes it."""
    state = dict(proc_root=str(tmp_path / 'proc'), run_dir=str(tmp_path / 'run'))
    for folder in state.values():
        os.makedirs(folder, exist_ok=True)
    pfs_state.show_daemon(state, 'nvme2n1', pid, 1)
    return state['proc_root'], state['run_dir']


def test_finds_the_recorded_daemon_by_the_lock_on_its_pid_file(tmp_path):
    proc, run = recorded_daemon(tmp_path)
    pidfile = tmp_path / 'run' / 'pfsd_nvme2n1.pid'
    assert pidfile.read_text() == transcripts.find('pfsd.txt', 'cat /var/run/pfsd/pfsd_nvme2n1.pid').stdout == '572'
    found = find_pfsdaemon('nvme2n1', proc, run)
    assert (found.pid, found.workers, found.running, found.pidfile_locked) == (573, 1, True, True)
    assert found.pids == [573] and found.trouble() is None
    assert found.pidfile == str(pidfile)
    assert not hasattr(found, 'pidfile_pid')   # the file names the parent: never compared with the daemon


def test_the_recorded_fdinfo_lock_line_is_what_counts(tmp_path):
    proc, run = recorded_daemon(tmp_path)
    pidfile = str(tmp_path / 'run' / 'pfsd_nvme2n1.pid')
    fdinfo = tmp_path / 'proc' / '573' / 'fdinfo' / '3'
    fdinfo.write_text(transcripts.find('pfsd.txt', 'cat /proc/573/fdinfo/3').stdout)   # the real text
    assert holds_flock_on(573, pidfile, proc)
    for text in ('pos:\t3\nflags:\t02100002\n',                                    # open, not locked
                 'lock:\t1: POSIX  ADVISORY  WRITE 0 00:69:1 0 EOF\n'):             # an fcntl lock
        fdinfo.write_text(text)
        assert not holds_flock_on(573, pidfile, proc)
    assert not holds_flock_on(574, pidfile, proc) and not holds_flock_on(573, pidfile + '.gone', proc)


def test_a_daemon_without_the_lock_on_its_pid_file_is_trouble(tmp_path):
    proc, run = recorded_daemon(tmp_path)
    pidfile = tmp_path / 'run' / 'pfsd_nvme2n1.pid'
    # removed under the daemon and written again: the daemon's fd still names the old, deleted file
    os.link(str(pidfile), str(tmp_path / 'deleted'))
    pidfile.unlink()
    pidfile.write_text('572')
    fd = tmp_path / 'proc' / '573' / 'fd' / '3'
    fd.unlink()
    fd.symlink_to(tmp_path / 'deleted')
    found = find_pfsdaemon('nvme2n1', proc, run)
    assert found.running and not found.pidfile_locked
    assert found.trouble() == ('pfsdaemon -p nvme2n1 runs as pid 573 but holds no lock on %s: another daemon '
                               'for the disk may have been started, or the file was removed' % pidfile)
    fd.unlink()
    fd.symlink_to(tmp_path / 'run')                                            # an fd on another file
    assert not find_pfsdaemon('nvme2n1', proc, run).pidfile_locked
    shutil.rmtree(str(tmp_path / 'proc' / '573' / 'fd'))                       # fds not readable
    assert not find_pfsdaemon('nvme2n1', proc, run).pidfile_locked


def test_a_stale_pid_file_without_a_daemon_is_no_trouble(tmp_path):
    # stop_pfsd.sh leaves the pid file behind (recorded); nothing runs, nothing to say
    proc, run = tree(tmp_path, {}, pidfile='572')
    found = find_pfsdaemon('nvme2n1', proc, run)
    assert not found.running and not found.pidfile_locked and found.trouble() is None


def test_command_lines_merely_holding_both_words_are_not_daemons(tmp_path):
    proc, run = tree(tmp_path, {
        60: ['/bin/sh', '-c', '/usr/local/polarstore/pfsd/bin/start_pfsd.sh -p nvme2n1 # pfsdaemon'],
        61: ['grep', 'pfsdaemon', '-p', 'nvme2n1'],
        62: ['/usr/local/bin/pfsdaemon', '-p', 'nvme2n10', '-w', '1'],
        63: ['/usr/local/bin/pfsdaemon-helper', '-p', 'nvme2n1']})
    found = find_pfsdaemon('nvme2n1', proc, run)
    assert found.pid is None and not found.running and found.pids == []
    assert [pid for pid, _ in find_lookalikes('nvme2n1', proc)] == [60, 61, 63]


def test_glued_option_and_missing_workers(tmp_path):
    proc, run = tree(tmp_path, {70: ['pfsdaemon', '-pnvme2n1']})
    found = find_pfsdaemon('nvme2n1', proc, run)
    assert found.pid == 70 and found.workers is None
    assert workers_of(['pfsdaemon', '-w', '4']) == 4


def test_reports_several_daemons(tmp_path):
    proc, run = recorded_daemon(tmp_path, pid=50)
    pfs_state.add_process(proc, 80, DAEMON)
    found = find_pfsdaemon('nvme2n1', proc, run)
    assert found.pid == 50 and found.pids == [50, 80] and found.pidfile_locked
    assert 'several pfsdaemon processes serve nvme2n1: 50, 80' == found.trouble()
