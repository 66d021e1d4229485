"""The tarball an operator installs holds the collection, and none of a working checkout's state.

The checkout's files are copied beside a lab's disk image and CA key, a venv, test
caches, the .collections link back to the checkout and an older tarball, as
a checkout has them after `make demo` and `make test`; the build must leave
all of those out and keep what `ansible-playbook polardb.cluster.site` needs.
"""
import pathlib
import shutil
import subprocess
import sys
import tarfile

import pytest

PROJECT = pathlib.Path(__file__).resolve().parents[2]
GALAXY = pathlib.Path(sys.executable).parent / "ansible-galaxy"
LOCAL_STATE = [
    ".lab/polardb-lab/pb3/VirtualDisk_standby.img",
    ".venv/bin/python3",
    ".pytest_cache/v/cache/nodeids",
    "tests/unit/__pycache__/test_pfs.cpython-311.pyc",
    ".ansible/tmp/leftover",
    ".cache/molecule/leftover",
    "bench/results/last.tsv",
    "polardb-cluster-0.1.0.tar.gz",
    "inventory/lab/.polardb-tls/ca.key",
    "inventory/ssh-example/.polardb-tls/db-primary-1.key",
]
SHIPPED = [
    "MANIFEST.json",
    "meta/runtime.yml",
    "playbooks/site.yml",
    "playbooks/lab.yml",
    "playbooks/primary.yml",
    "playbooks/followers.yml",
    "playbooks/verify.yml",
    "playbooks/tasks/skip_when_unchanged.yml",
    "roles/polardb/tasks/compare.yml",
    "roles/polardb/tasks/record.yml",
    "roles/polardb/tasks/forget.yml",
    "plugins/modules/node_state.py",
    "plugins/filter/run_fingerprint.py",
    "roles/standby/meta/argument_specs.yml",
    "plugins/modules/pfs_mkfs.py",
    "plugins/modules/loop_device.py",
    "roles/standby/tasks/main.yml",
    "plugins/doc_fragments/pfs.py",
    "inventory/ssh-example/hosts.yml",
    "scripts/build-images.sh",
    "images/ssh/Dockerfile",
]


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    checkout = tmp_path_factory.mktemp("checkout")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=PROJECT,
                            capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        source = PROJECT / name
        if source.is_file() and not source.is_symlink():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name)
    for name in LOCAL_STATE:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text("local state\n")
    link = checkout / ".collections/ansible_collections/polardb/cluster"
    link.parent.mkdir(parents=True)
    link.symlink_to("../../..")
    output = tmp_path_factory.mktemp("build")
    build = subprocess.run([str(GALAXY), "collection", "build", "--output-path", str(output), str(checkout)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    (tarball,) = output.glob("polardb-cluster-*.tar.gz")
    with tarfile.open(tarball) as archive:
        return set(archive.getnames())


def test_the_tarball_holds_the_playbooks_roles_modules_and_the_example_inventory(members):
    assert set(SHIPPED) <= members, sorted(set(SHIPPED) - members)


def test_the_tarball_holds_no_lab_data_keys_venv_caches_or_older_tarballs(members):
    local = [name for name in members
             if name.split("/")[0] in {".lab", ".venv", ".pytest_cache", ".ansible", ".cache", ".collections", ".git", ".ci"}
             or "__pycache__" in name.split("/") or name.endswith((".pyc", ".tar.gz", ".img"))
             or name.startswith("bench/results") or ".polardb-tls" in name.split("/")]
    assert local == [], local
