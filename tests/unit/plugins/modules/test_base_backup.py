"""base_backup: a backup counts only once verified and named; interrupted ones and those past retention go,
with the WAL only they needed; check mode changes nothing. pg_basebackup and pg_verifybackup are stood in
for by writing what they write (a manifest and a WAL range); the real ones run on the lab
(tests/lifecycle/test_3_backup.py)."""
import json
import os

import pytest

from ansible_collections.polardb.cluster.plugins.modules import base_backup

MB16 = 16 * 1024 * 1024


class Tools:
    """pg_basebackup writes a plain backup whose WAL range starts at start_lsn; pg_verifybackup answers verdict."""

    def __init__(self):
        self.calls = []
        self.start_lsn = "0/5000028"
        self.verdict = (0, "")
        self.basebackup_rc = (0, "")

    def __call__(self, module, argv, user=None, timeout=None, kill_after=30, env=None):
        self.calls.append(argv)
        tool = os.path.basename(argv[0])
        if tool == "pg_basebackup":
            target = argv[argv.index("-D") + 1]
            os.makedirs(os.path.join(target, "pg_wal"))
            with open(os.path.join(target, "backup_manifest"), "w") as handle:
                json.dump({"Files": [], "WAL-Ranges": [
                    {"Timeline": 1, "Start-LSN": self.start_lsn, "End-LSN": self.start_lsn[:-2] + "FF"}]}, handle)
            rc, err = self.basebackup_rc
            return argv, rc, "", err
        if tool == "pg_verifybackup":
            rc, err = self.verdict
            return argv, rc, "", err
        raise AssertionError("unexpected command %r" % argv)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    tools = Tools()
    monkeypatch.setattr(base_backup, "run_as", tools)
    (tmp_path / "base").mkdir()
    (tmp_path / "wal").mkdir()
    args = dict(repository=str(tmp_path), archive_dir=str(tmp_path / "wal"), conninfo="host=pb1",
                bin_dir="/usr/lib/postgresql/15/bin", keep=2)
    return tmp_path, tools, args


def old_backup(root, backup_id, start_segment):
    path = root / "base" / backup_id
    path.mkdir()
    (path / "backup.json").write_text(json.dumps(dict(
        id=backup_id, finished_at="2026-12-01T00:00:00Z", start_segment=start_segment, start_lsn="0/1000028",
        end_lsn="0/1000100", timeline=1)))


def test_a_verified_backup_is_named_and_recorded(run_module, repo):
    root, tools, args = repo
    result = run_module(base_backup, args)
    assert result["changed"] is True
    backup = result["backup"]
    assert backup["start_lsn"] == "0/5000028" and backup["start_segment"] == "000000010000000000000005"
    assert backup["verified_with"] == "pg_verifybackup" and os.path.isdir(backup["path"])
    assert json.loads((root / "base" / backup["id"] / "backup.json").read_text())["id"] == backup["id"]
    basebackup = tools.calls[0]
    assert "--manifest-checksums=CRC32C" in basebackup and basebackup[basebackup.index("-X") + 1] == "stream"


@pytest.mark.parametrize("failing, answer, said", [
    ("verdict", 'pg_verifybackup: error: "base/1/1259" has size 0 on disk but size 8192 in the manifest',
     "failed its verification and was removed: pg_verifybackup: error"),
    ("basebackup_rc", "pg_basebackup: error: connection to server failed", "connection to server failed"),
])
def test_a_backup_that_failed_or_failed_its_verification_leaves_nothing(run_module, repo, failing, answer, said):
    root, tools, args = repo
    setattr(tools, failing, (1, answer))
    result = run_module(base_backup, args)
    assert result["failed"] is True and said in result["msg"]
    assert os.listdir(root / "base") == []


def test_retention_removes_old_backups_the_wal_only_they_needed_and_interrupted_runs(run_module, repo):
    root, tools, args = repo
    old_backup(root, "20261201T000000Z", "000000010000000000000001")
    old_backup(root, "20261202T000000Z", "000000010000000000000003")
    (root / "base" / "20261203T000000Z.partial").mkdir()
    (root / "base" / "keep-me").mkdir()
    for name in ("000000010000000000000001", "000000010000000000000002", "000000010000000000000003",
                 "000000010000000000000004.partial", "00000002.history"):
        (root / "wal" / name).write_bytes(b"x")
    result = run_module(base_backup, args, diff=True)
    assert result["removed"] == ["20261201T000000Z"]
    assert result["removed_partial"] == ["20261203T000000Z.partial"]
    assert result["removed_wal"] == ["000000010000000000000001", "000000010000000000000002"]
    assert sorted(os.listdir(root / "base")) == sorted(["20261202T000000Z", result["backup"]["id"], "keep-me"])
    assert sorted(os.listdir(root / "wal")) == ["000000010000000000000003", "000000010000000000000004.partial",
                                                "00000002.history"]
    assert result["diff"]["after"]["backups"] == ["20261202T000000Z", result["backup"]["id"]]


def test_check_mode_reports_and_changes_nothing(run_module, repo):
    root, tools, args = repo
    old_backup(root, "20261201T000000Z", "000000010000000000000001")
    old_backup(root, "20261202T000000Z", "000000010000000000000003")
    (root / "wal" / "000000010000000000000001").write_bytes(b"x")
    result = run_module(base_backup, args, check_mode=True)
    assert result["changed"] is True and result["removed"] == ["20261201T000000Z"] and tools.calls == []
    assert sorted(os.listdir(root / "base")) == ["20261201T000000Z", "20261202T000000Z"]
    assert os.listdir(root / "wal") == ["000000010000000000000001"]


def test_a_recent_backup_is_enough_with_max_age(run_module, repo):
    root, tools, args = repo
    first = run_module(base_backup, args)["backup"]
    again = run_module(base_backup, dict(args, max_age=3600))
    assert again["changed"] is False and again["backup"] is None and tools.calls[2:] == []
    assert [b["id"] for b in again["backups"]] == [first["id"]]


def test_keep_must_be_at_least_one(run_module, repo):
    result = run_module(base_backup, dict(repo[2], keep=0))
    assert result["failed"] is True and "at least one base backup must be kept" in result["msg"]
