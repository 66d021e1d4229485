import pathlib
import sys

from ansible_collections.polardb.cluster.plugins.module_utils.process import (
    find_lookalikes, find_pfsdaemon, iter_processes, workers_of)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'fakes'))
import pfs_state  # noqa: E402

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


def test_finds_the_recorded_daemon_and_agrees_with_its_pid_file(tmp_path):
    proc, run = tree(tmp_path, {50: DAEMON}, pidfile='50\n')
    found = find_pfsdaemon('nvme2n1', proc, run)
    assert (found.pid, found.pidfile_pid, found.workers, found.running) == (50, 50, 1, True)
    assert found.agree and found.disagreement() is None
    assert found.pidfile == str(tmp_path / 'run' / 'pfsd_nvme2n1.pid')


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


def test_reports_stale_missing_and_differing_pid_files(tmp_path):
    proc, run = tree(tmp_path, {}, pidfile='50')
    assert 'stale pid file' in find_pfsdaemon('nvme2n1', proc, run).disagreement()
    (tmp_path / 'run' / 'pfsd_nvme2n1.pid').unlink()
    pfs_state.add_process(proc, 50, DAEMON)
    assert 'is missing' in find_pfsdaemon('nvme2n1', proc, run).disagreement()
    (tmp_path / 'run' / 'pfsd_nvme2n1.pid').write_text('garbage')
    assert find_pfsdaemon('nvme2n1', proc, run).pidfile_pid is None
    (tmp_path / 'run' / 'pfsd_nvme2n1.pid').write_text('49')
    assert find_pfsdaemon('nvme2n1', proc, run).disagreement() == \
        'pfsdaemon -p nvme2n1 runs as pid 50, but %s names pid 49' % (tmp_path / 'run' / 'pfsd_nvme2n1.pid')


def test_reports_several_daemons(tmp_path):
    proc, run = tree(tmp_path, {50: DAEMON, 80: DAEMON}, pidfile='50')
    found = find_pfsdaemon('nvme2n1', proc, run)
    assert found.pid == 50 and found.pids == [50, 80] and not found.agree
    assert 'several pfsdaemon processes serve nvme2n1: 50, 80' == found.disagreement()
