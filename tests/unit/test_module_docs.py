"""`ansible-doc` renders every module with its options, examples and return values."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def test_the_fourteen_modules_are_there():
    assert MODULES == ["backup_info", "backup_restore", "base_backup", "config_files", "loop_device", "node_state",
                       "pfs_mkfs", "pfsd", "pfsd_info", "polar_basebackup", "replication_info", "replication_slot",
                       "wal_receiver", "warn"]


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(module):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1")
    run = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-doc"),
                          "polardb.cluster." + module], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert "[WARNING]" not in run.stderr, run.stderr
    for section in ("OPTIONS", "EXAMPLES", "RETURN VALUES"):
        assert section in run.stdout
