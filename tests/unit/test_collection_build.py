"""`ansible-galaxy collection build` ships the collection, not the workspace."""
import pathlib
import subprocess
import sys
import tarfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKSPACE_ONLY = (".venv/", ".collections/", ".lab/", ".cache/", ".pytest_cache/", ".git/", ".ci/")


def test_build_leaves_out_venv_lab_data_and_caches(tmp_path):
    # .lab may not exist yet: make sure there is something to leave out.
    probe = ROOT / ".lab" / "build-probe"
    probe.parent.mkdir(exist_ok=True)
    probe.write_text("lab data\n")
    try:
        subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-galaxy"), "collection",
                        "build", "--force", "--output-path", str(tmp_path), str(ROOT)],
                       check=True, capture_output=True, text=True)
    finally:
        probe.unlink()
    (tarball,) = tmp_path.glob("polardb-cluster-*.tar.gz")
    names = tarfile.open(tarball).getnames()
    assert "plugins/modules/loop_device.py" in names
    assert "roles/standby/tasks/main.yml" in names
    leaked = [n for n in names if n.startswith(WORKSPACE_ONLY) or "__pycache__" in n or n.endswith(".pyc")]
    assert leaked == []
