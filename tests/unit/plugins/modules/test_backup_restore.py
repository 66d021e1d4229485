"""backup_restore lays out a data directory from a backup and the archive: what was there moves aside whole,
the archive's WAL from the backup's start goes into pg_wal (the partial segment under its final name),
recovery.signal marks it (standby.signal for a standby); a gap refuses a restore to the latest point before
anything moves."""
import getpass
import sys
import json
import os
import pathlib

import pytest

from ansible_collections.polardb.cluster.plugins.modules import backup_restore

MB16 = 16 * 1024 * 1024


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    for backup_id, start, finished in (("20261207T100000Z", "000000010000000000000003", "2026-12-07T10:00:02Z"),
                                       ("20261207T110000Z", "000000010000000000000005", "2026-12-07T11:00:02Z")):
        path = root / "base" / backup_id
        (path / "pg_wal").mkdir(parents=True)
        (path / "PG_VERSION").write_text("15\n")
        (path / "backup_manifest").write_text("{}")
        (path / "standby.signal").write_text("")
        (path / "backup.json").write_text(json.dumps(dict(
            id=backup_id, start_segment=start, finished_at=finished, start_lsn="0/%s000028" % start[-1],
            end_lsn="0/%s000100" % start[-1], timeline=1)))
    wal = root / "wal"
    wal.mkdir()
    for name in ("000000010000000000000003", "000000010000000000000004", "000000010000000000000005",
                 "000000010000000000000006.partial", "00000002.history"):
        (wal / name).write_bytes(name.encode())
    data = tmp_path / "data"
    return root, data, dict(repository=str(root), data_dir=str(data), owner=getpass.getuser())


def test_latest_lays_out_the_newest_backup_and_the_wal_after_it(run_module, repo):
    root, data, args = repo
    result = run_module(backup_restore, args)
    assert result["backup"]["id"] == "20261207T110000Z" and result["moved_aside"] is None
    assert sorted(os.listdir(data / "pg_wal")) == ["000000010000000000000005", "000000010000000000000006",
                                                   "00000002.history"]
    assert (data / "pg_wal" / "000000010000000000000006").read_bytes() == b"000000010000000000000006.partial"
    assert sorted(os.listdir(data)) == ["PG_VERSION", "pg_wal", "recovery.signal"]
    assert result["newest_segment"] == "000000010000000000000006"


def test_a_time_target_takes_the_backup_finished_before_it_and_what_was_there_moves_aside(run_module, repo):
    root, data, args = repo
    data.mkdir()
    (data / "PG_VERSION").write_text("old")
    result = run_module(backup_restore, dict(args, target_time="2026-12-07 11:30:00+01"))
    assert result["backup"]["id"] == "20261207T100000Z"
    assert (pathlib.Path(result["moved_aside"]) / "PG_VERSION").read_text() == "old"
    assert sorted(os.listdir(data / "pg_wal"))[:3] == ["000000010000000000000003", "000000010000000000000004",
                                                       "000000010000000000000005"]


def test_a_gap_refuses_the_latest_point_and_changes_nothing(run_module, repo):
    root, data, args = repo
    (root / "wal" / "000000010000000000000005").unlink()
    result = run_module(backup_restore, dict(args, backup="20261207T100000Z"))
    assert result["failed"] is True and "misses 000000010000000000000005" in result["msg"]
    assert not data.exists()
    # to a point: the server itself stops at the gap and says so when the target lies past it
    laid = run_module(backup_restore, dict(args, backup="20261207T100000Z", target_lsn="0/4800000"))
    assert laid["missing"] == ["000000010000000000000005"] and data.is_dir()


def test_a_standby_gets_standby_signal_and_the_whole_archive(run_module, repo):
    root, data, args = repo
    result = run_module(backup_restore, dict(args, signal="standby"))
    assert result["backup"]["id"] == "20261207T110000Z"
    assert sorted(os.listdir(data)) == ["PG_VERSION", "pg_wal", "standby.signal"]
    assert "000000010000000000000006" in os.listdir(data / "pg_wal")


def test_a_partial_segment_completed_while_the_restore_copies_is_taken_under_its_final_name(repo, tmp_path):
    from ansible_collections.polardb.cluster.plugins.module_utils import wal_archive
    root, data, args = repo
    wal = root / "wal"
    wanted = [segment for segment in wal_archive.list_archive(str(wal), MB16)[0] if segment.number >= 5]
    # pg_receivewal renames it once the segment is whole, between the listing and the copy
    (wal / "000000010000000000000006.partial").rename(wal / "000000010000000000000006")
    partial = tmp_path / "data.restoring"
    backup_restore.lay_out(str(root / "base" / "20261207T110000Z"), str(partial), str(wal), wanted, MB16, "",
                           "standby")
    assert (partial / "pg_wal" / "000000010000000000000006").read_bytes() == b"000000010000000000000006.partial"
    assert (partial / "standby.signal").exists()


@pytest.mark.parametrize("target", [dict(target_time="2026-12-07 11:30:00+00"), dict(target_lsn="0/5000100"),
                                    dict(target_name="before_upgrade")])
def test_a_standby_takes_no_target(run_module, repo, target):
    root, data, args = repo
    result = run_module(backup_restore, dict(args, signal="standby", **target))
    assert result["failed"] is True and "signal=standby takes no target_time" in result["msg"]
    assert not data.exists()


@pytest.mark.parametrize("target, message", [
    (dict(target_time="2026-12-07 10:00:00"), "has no time zone"),
    (dict(target_time="yesterday"), "is not a time such as"),
    (dict(target_time="2026-12-07 09:00:00+00"), "every backup finished after"),
    (dict(target_lsn="0/zz"), "is not an LSN"),
])
def test_bad_targets_change_nothing(run_module, repo, target, message):
    root, data, args = repo
    result = run_module(backup_restore, dict(args, **target))
    assert result["failed"] is True and message in result["msg"] and "Nothing was changed" in result["msg"]
    assert not data.exists()


def test_check_mode(run_module, repo):
    root, data, args = repo
    data.mkdir()
    (data / "x").write_text("")
    result = run_module(backup_restore, args, check_mode=True)
    assert result["changed"] is True and result["moved_aside"].startswith(str(data) + ".old-")
    assert os.listdir(data) == ["x"] and not os.path.exists(result["moved_aside"])


@pytest.fixture
def polardb(repo, fake_bin, tmp_path, monkeypatch):
    """The repository holding a PolarDB backup (its shared data in polar_shared_data), and the fake pfs with the
    node's formatted disk."""
    root, data, args = repo
    for backup_id in os.listdir(root / "base"):
        shared = root / "base" / backup_id / "polar_shared_data"
        (shared / "pg_wal").mkdir(parents=True)
        (shared / "global").mkdir()
        (shared / "global" / "pg_control").write_bytes(b"control")
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "fakes"))
    import pfs_state
    pfs_state.install(fake_bin, names=("pfs",))
    state = tmp_path / "pfs.json"
    pfs_state.make_state(state, disks={"nvme2n1": pfs_state.disk(formatted=True)})
    monkeypatch.setenv("FAKE_PFS_STATE", str(state))
    return root, data, dict(args, polar_datadir="/nvme2n1/shared_data/"), state, pfs_state


def test_polardb_shared_data_and_its_wal_go_onto_the_node_s_pfs_disk(run_module, polardb):
    root, data, args, state, pfs_state = polardb
    result = run_module(backup_restore, args)
    assert result["changed"] is True
    files = pfs_state.read_state(state)["disks"]["nvme2n1"]["files"]
    assert "shared_data/global/pg_control" in files
    assert "shared_data/pg_wal/000000010000000000000006" in files  # the partial one, under its final name
    assert sorted(os.listdir(data)) == ["PG_VERSION", "pg_wal", "recovery.signal"]
    assert not os.path.exists(str(data) + ".restoring-shared")


def test_polardb_shared_data_already_there_is_refused(run_module, polardb):
    root, data, args, state, pfs_state = polardb
    run_module(backup_restore, args)
    (data / "PG_VERSION").write_text("restored once")
    again = run_module(backup_restore, args)
    assert again["failed"] is True and "Shared data is already on PFS at /nvme2n1/shared_data" in again["msg"]
    assert (data / "PG_VERSION").read_text() == "restored once"
    # check mode, which the role runs before it moves the shared data aside, says so instead
    planned = run_module(backup_restore, args, check_mode=True)
    assert planned["changed"] is True and planned["shared_present"] is True
