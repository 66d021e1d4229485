"""Shared harness for the module unit tests.

Modules are imported as ``ansible_collections.polardb.cluster...`` through the
``.collections`` link to this checkout, and run in-process with
``run_module``, which returns the module's result dict (``failed`` set when it
called fail_json).
"""
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".collections"
FAKES = pathlib.Path(__file__).resolve().parent / "fakes"


def _link_collection():
    link = COLLECTIONS / "ansible_collections" / "polardb" / "cluster"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(ROOT, link.parent))


_link_collection()
sys.path.insert(0, str(COLLECTIONS))

sys.path.insert(0, str(FAKES))

import pg_server  # noqa: E402
from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402


class ModuleExit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise ModuleExit(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise ModuleExit(kwargs)


@pytest.fixture
def run_module(monkeypatch):
    """Run ``module.main()`` with ``args``; return what it exited with."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)

    def run(module, args, check_mode=False, diff=False):
        module_args = dict(args)
        module_args["_ansible_check_mode"] = check_mode
        module_args["_ansible_diff"] = diff
        with patch_module_args(module_args):
            with pytest.raises(ModuleExit) as caught:
                module.main()
        return caught.value.result

    return run


@pytest.fixture(autouse=True)
def pfs_run_dir(tmp_path, monkeypatch):
    """PFS's lock folder (/var/run/pfs on a real host) in tmp, for every test.

    No unit test may create /var/run/pfs on this machine. The fake pfs fails
    writes while the folder is missing, as the real one does.
    """
    from ansible_collections.polardb.cluster.plugins.module_utils import pfs
    path = tmp_path / "var-run-pfs"
    monkeypatch.setattr(pfs, "RUN_DIR", str(path))
    monkeypatch.setenv("FAKE_PFS_RUN_DIR", str(path))
    monkeypatch.delenv("FAKE_PFS_NONROOT", raising=False)
    return path


@pytest.fixture
def fake_bin(tmp_path, monkeypatch):
    """A directory put first on PATH, for fake executables of a test."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", "%s%s%s" % (bin_dir, os.pathsep, os.environ.get("PATH", "")))
    return bin_dir


@pytest.fixture(scope="module")
def real_server():
    """A throw-away PostgreSQL server; the test is skipped, saying why, where none can start."""
    try:
        running = pg_server.start()
    except pg_server.Unavailable as e:
        pytest.skip("no local PostgreSQL server for the server-based test: %s" % e)
    yield running
    running.stop()
