"""backup_info reads the repository and finds what would stop a restore: gaps, segments cut short, and the
segment holding the first record pg_waldump cannot read (its stop is stood in for with the words the real
one ends with; the real one runs on the lab)."""
import json

import pytest

from ansible_collections.polardb.cluster.plugins.modules import backup_info

MB16 = 16 * 1024 * 1024


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "base" / "20261207T100000Z"
    path.mkdir(parents=True)
    (path / "backup.json").write_text(json.dumps(dict(
        id="20261207T100000Z", start_segment="000000010000000000000003", finished_at="2026-12-07T10:00:02Z",
        start_lsn="0/3000028", end_lsn="0/3000100", timeline=1, size_bytes=1)))
    wal = tmp_path / "wal"
    wal.mkdir()
    for name in ("000000010000000000000003", "000000010000000000000004", "000000010000000000000005",
                 "000000010000000000000006.partial"):
        with open(wal / name, "wb") as handle:
            handle.truncate(MB16)
    return tmp_path


def waldump_stops_at(monkeypatch, lsn):
    def run_as(module, argv, **kwargs):
        return argv, 1, "", "pg_waldump: error: error in WAL record at %s: invalid magic number 0000" % lsn
    monkeypatch.setattr(backup_info, "run_as", run_as)


def test_a_sound_archive(run_module, repo, monkeypatch):
    waldump_stops_at(monkeypatch, "0/60000D8")
    result = run_module(backup_info, dict(repository=str(repo), bin_dir="/bin", check_wal=True))
    archive = result["archive"]
    assert archive["sound"] is True and archive["gaps"] == [] and archive["damaged"] is None
    assert archive["newest"] == "000000010000000000000006.partial" and archive["readable_to"] == "0/60000D8"
    assert result["last_backup"]["id"] == "20261207T100000Z" and result["last_backup"]["age_seconds"] >= 0


def test_a_gap_a_short_segment_and_an_unreadable_record_are_named(run_module, repo, monkeypatch):
    (repo / "wal" / "000000010000000000000004").unlink()
    with open(repo / "wal" / "000000010000000000000005", "r+b") as handle:
        handle.truncate(8192)
    result = run_module(backup_info, dict(repository=str(repo)))
    assert result["archive"]["gaps"] == ["000000010000000000000004"]
    assert result["archive"]["wrong_size"] == ["000000010000000000000005"] and result["archive"]["sound"] is False


def test_damage_before_the_newest_segment(run_module, repo, monkeypatch):
    waldump_stops_at(monkeypatch, "0/4002000")
    result = run_module(backup_info, dict(repository=str(repo), bin_dir="/bin", check_wal=True))
    assert result["archive"]["damaged"] == "000000010000000000000004" and result["archive"]["sound"] is False


def test_damage_in_the_last_complete_segment_before_the_partial_one(run_module, repo, monkeypatch):
    waldump_stops_at(monkeypatch, "0/5002000")
    result = run_module(backup_info, dict(repository=str(repo), bin_dir="/bin", check_wal=True))
    assert result["archive"]["damaged"] == "000000010000000000000005" and result["archive"]["sound"] is False


def test_without_a_partial_segment_a_stop_in_the_last_complete_one_is_damage(run_module, repo, monkeypatch):
    # a complete segment is followed by more WAL: pg_waldump would go on, or say it cannot find the next file
    (repo / "wal" / "000000010000000000000006.partial").unlink()
    waldump_stops_at(monkeypatch, "0/5FFFFE0")
    result = run_module(backup_info, dict(repository=str(repo), bin_dir="/bin", check_wal=True))
    assert result["archive"]["damaged"] == "000000010000000000000005" and result["archive"]["sound"] is False


def test_an_empty_repository(run_module, tmp_path):
    result = run_module(backup_info, dict(repository=str(tmp_path)))
    assert result["backups"] == [] and result["last_backup"] is None and result["archive"]["segments"] == 0
