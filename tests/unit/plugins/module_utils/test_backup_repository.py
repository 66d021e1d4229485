"""The repository's backups: which count, which retention removes, which a restore starts from, and the
manifest check that stands in for pg_verifybackup on PolarDB."""
import datetime
import hashlib
import json

import pytest

from ansible_collections.polardb.cluster.plugins.module_utils import backup_repository as repo

MB16 = 16 * 1024 * 1024
UTC = datetime.timezone.utc


def backup(backup_id, finished, end_lsn="0/3000100"):
    return dict(id=backup_id, finished_at=finished, end_lsn=end_lsn, start_lsn="0/3000028",
                start_segment="000000010000000000000003", timeline=1)


def test_only_complete_backups_count_and_interrupted_ones_are_named(tmp_path):
    (tmp_path / "20261207T100000Z").mkdir()
    (tmp_path / "20261207T100000Z" / "backup.json").write_text(json.dumps(backup("20261207T100000Z", "x")))
    (tmp_path / "20261207T110000Z").mkdir()  # no backup.json: it never finished
    (tmp_path / "20261207T120000Z.partial").mkdir()
    (tmp_path / "mine").mkdir()
    backups, partial, others = repo.list_backups(str(tmp_path))
    assert [b["id"] for b in backups] == ["20261207T100000Z"]
    assert partial == ["20261207T120000Z.partial"]
    assert others == ["20261207T110000Z", "mine"]


def test_retention_keeps_the_newest():
    backups = [backup(str(n), "x") for n in range(4)]
    assert [b["id"] for b in repo.to_remove(backups, 2)] == ["0", "1"]
    assert repo.to_remove(backups[:1], 2) == []


BACKUPS = [backup("A", "2026-12-07T10:00:05Z", "0/3000100"), backup("B", "2026-12-07T11:00:05Z", "0/5000100")]


def test_a_time_target_starts_from_the_newest_backup_that_finished_before_it():
    at = datetime.datetime(2026, 12, 7, 12, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert repo.choose(BACKUPS, target_time=at)["id"] == "B"
    assert repo.choose(BACKUPS, target_time=at - datetime.timedelta(hours=1))["id"] == "A"
    with pytest.raises(ValueError, match="every backup finished after"):
        repo.choose(BACKUPS, target_time=datetime.datetime(2026, 12, 7, 10, 0, 4, tzinfo=UTC))


def test_an_lsn_target_a_named_backup_and_latest():
    assert repo.choose(BACKUPS, target_lsn=0x4000000)["id"] == "A"
    assert repo.choose(BACKUPS)["id"] == "B"
    assert repo.choose(BACKUPS, backup_id="A")["id"] == "A"
    with pytest.raises(ValueError, match="no backup C"):
        repo.choose(BACKUPS, backup_id="C")
    with pytest.raises(ValueError, match="no complete base backup"):
        repo.choose([])


def polardb_backup(path, shared_files, wal_size=MB16):
    """A plain PolarDB backup: local and shared files under the same relative paths, as pg_basebackup writes them."""
    files = []
    for relative, content in shared_files.items():
        target = path / "polar_shared_data" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        files.append({"Path": relative, "Size": len(content), "Checksum-Algorithm": "SHA256",
                      "Checksum": hashlib.sha256(content).hexdigest()})
    (path / "pg_xact").mkdir(parents=True, exist_ok=True)
    (path / "pg_xact" / "0000").write_bytes(b"local")
    files.append({"Path": "pg_xact/0000", "Size": 5, "Checksum-Algorithm": "SHA256",
                  "Checksum": hashlib.sha256(b"local").hexdigest()})
    wal = path / "polar_shared_data" / "pg_wal"
    wal.mkdir(parents=True, exist_ok=True)
    (wal / "000000010000000000000003").write_bytes(b"\0" * wal_size)
    (path / "backup_manifest").write_text(json.dumps({
        "Files": files, "WAL-Ranges": [{"Timeline": 1, "Start-LSN": "0/3000028", "End-LSN": "0/3000100"}]}))


def test_a_sound_polardb_backup_passes_with_duplicate_paths(tmp_path):
    polardb_backup(tmp_path, {"pg_xact/0000": b"shared", "global/pg_control": b"control"})
    assert repo.manifest_problems(str(tmp_path), MB16) == []
    assert repo.wal_range(repo.read_manifest(str(tmp_path))) == (1, 0x3000028, 0x3000100)


def test_a_changed_file_a_missing_one_and_short_wal_are_each_named(tmp_path):
    polardb_backup(tmp_path, {"global/pg_control": b"control", "base/1/1259": b"catalog"}, wal_size=8192)
    (tmp_path / "polar_shared_data" / "global" / "pg_control").write_bytes(b"CONTROL")
    (tmp_path / "polar_shared_data" / "base" / "1" / "1259").unlink()
    problems = repo.manifest_problems(str(tmp_path), MB16)
    assert problems == ["global/pg_control does not match the manifest (size or checksum)",
                        "base/1/1259 is missing",
                        "WAL segment 000000010000000000000003, needed from 0/3000028 to 0/3000100, "
                        "is missing or cut short"]
