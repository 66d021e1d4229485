"""wal_receiver keeps exactly one pg_receivewal per archive directory: started once, restarted when its
command line must change, stopped on request, and a process that dies at once is an error naming its log.

What the module finds is a fake /proc (pfs_state.add_process) holding the processes' command lines, each
naming a real process of this test (so stopping one is real); what it starts is a stand-in that stays up
as the tool does, or exits with the tool's message for a missing slot. The real tool is proven on the lab
(tests/lifecycle/test_3_backup.py).
"""
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.polardb.cluster.plugins.modules import wal_receiver

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'fakes'))
import pfs_state  # noqa: E402

STAND_IN = """#!/bin/bash
for arg in "$@"; do
  if [ "$arg" = "--slot=missing" ]; then
    echo 'pg_receivewal: error: could not send replication command "START_REPLICATION": ERROR:  replication slot "missing" does not exist' >&2
    exit 1
  fi
done
exec sleep 600
"""


@pytest.fixture
def archive(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "pg_receivewal"
    tool.write_text(STAND_IN)
    tool.chmod(0o755)
    directory = tmp_path / "wal"
    directory.mkdir()
    proc = tmp_path / "proc"
    proc.mkdir()
    monkeypatch.setattr(wal_receiver, "PROC_ROOT", str(proc))
    started = []
    monkeypatch.setattr(wal_receiver.Receiver, "start", record_start(wal_receiver.Receiver.start, proc, started))
    args = dict(directory=str(directory), slot="pb3_archive", conninfo="host=pb1 user=replicator",
                bin_dir=str(bin_dir), log_file=str(tmp_path / "receiver.log"), wait_seconds=1)
    yield args
    for pid in started:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def record_start(start, proc, started):
    """The module's start, then the new process shown in the fake /proc with the command line it was given."""
    def wrapped(self, argv):
        pid = start(self, argv)
        started.append(pid)
        pfs_state.add_process(proc, pid, argv)
        return pid
    return wrapped


def listed(proc):
    return sorted(int(name) for name in os.listdir(proc))


def gone(pid):
    for _ in range(50):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not wal_receiver.alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_started_once_then_left_alone(run_module, archive):
    first = run_module(wal_receiver, archive)
    assert first["changed"] is True and first["action"] == "started" and wal_receiver.alive(first["pid"])
    assert first["argv"][1:] == ["--directory=%s" % archive["directory"], "--slot=pb3_archive",
                                 "--dbname=host=pb1 user=replicator", "--no-password", "--synchronous"]
    again = run_module(wal_receiver, archive)
    assert again["changed"] is False and again["pid"] == first["pid"]


def test_check_mode_starts_nothing(run_module, archive):
    result = run_module(wal_receiver, archive, check_mode=True, diff=True)
    assert result["changed"] is True and result["diff"]["before"] == {"argv": []} and result["pid"] is None
    assert listed(wal_receiver.PROC_ROOT) == []


def test_a_new_primary_restarts_it(run_module, archive):
    old = run_module(wal_receiver, archive)["pid"]
    moved = run_module(wal_receiver, dict(archive, conninfo="host=pb3 user=replicator"), diff=True)
    assert moved["action"] == "restarted" and moved["pid"] != old and gone(old)
    assert "--dbname=host=pb1 user=replicator" in moved["diff"]["before"]["argv"]
    assert "--dbname=host=pb3 user=replicator" in moved["diff"]["after"]["argv"]


def test_one_that_exits_at_once_fails_with_its_own_words(run_module, archive):
    result = run_module(wal_receiver, dict(archive, slot="missing"))
    assert result["failed"] is True
    assert 'replication slot "missing" does not exist' in result["msg"] and archive["log_file"] in result["msg"]
    assert result["msg"].startswith("pg_receivewal exited at once")


def test_stopped(run_module, archive):
    pid = run_module(wal_receiver, archive)["pid"]
    stopped = run_module(wal_receiver, dict(archive, state="stopped"))
    assert stopped["changed"] is True and stopped["action"] == "stopped" and gone(pid)


def test_nothing_to_stop_and_other_archives_are_not_ours(run_module, archive, tmp_path):
    other = subprocess.Popen(["sleep", "600"])
    try:
        pfs_state.add_process(wal_receiver.PROC_ROOT, other.pid, [
            os.path.join(archive["bin_dir"], "pg_receivewal"), "--directory=%s" % (tmp_path / "elsewhere")])
        assert run_module(wal_receiver, dict(archive, state="stopped"))["changed"] is False
        assert other.poll() is None
    finally:
        other.kill()


def test_two_writers_into_one_archive_are_refused(run_module, archive):
    for pid in (101, 102):
        pfs_state.add_process(wal_receiver.PROC_ROOT, pid, [
            "/usr/lib/postgresql/15/bin/pg_receivewal", "--directory=%s" % archive["directory"]])
    result = run_module(wal_receiver, archive)
    assert result["failed"] is True and "Several pg_receivewal processes write into" in result["msg"]
    assert "101, 102" in result["msg"]


def test_a_missing_archive_directory(run_module, archive, tmp_path):
    result = run_module(wal_receiver, dict(archive, directory=str(tmp_path / "nowhere")))
    assert result["failed"] is True and "does not exist" in result["msg"]
