"""The site molecule's scenario ssh built: reached as a real server is, from the installed collection.

Run by molecule/ssh/verify.yml, with the scenario's environment: its
inventory (inventory/ssh-example filled in), the installed collection
(ANSIBLE_COLLECTIONS_PATH), the vault password file. The lab itself is only
looked at through docker here; Ansible never used it.
"""
import json
import os
import pathlib
import re
import subprocess

import pytest

import labtools

SCRATCH = pathlib.Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
INVENTORY = pathlib.Path(os.environ.get("MOLECULE_INVENTORY_FILE", "/nonexistent/x")).parent
COLLECTIONS = pathlib.Path(os.environ.get("ANSIBLE_COLLECTIONS_PATH", "/nonexistent"))
CONTAINERS = {"primary": "pb1", "replica": "pb2", "standby": "pb3"}
ENGINE = os.environ.get("POLARDB_ENGINE") or "postgresql"
DATABASE = labtools.PolarDatabase if ENGINE == "polardb" else labtools.Database



@pytest.fixture(scope="module", autouse=True)
def scenario():
    assert (INVENTORY / "ssh-site.yml").is_file(), \
        "tests/ssh runs in molecule's scenario ssh, after its converge: molecule test -s ssh"


def ansible(tool, *args, cwd=None):
    """An ansible command as the operator runs it: the scenario's environment, from cwd."""
    return subprocess.run([str(labtools.BIN / tool), *args], cwd=cwd or SCRATCH, capture_output=True, text=True,
                          timeout=900, env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))


@pytest.fixture(scope="module")
def hostvars():
    run = ansible("ansible-inventory", "-i", str(INVENTORY), "--list")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)["_meta"]["hostvars"]


@pytest.fixture(scope="module")
def hosts(hostvars):
    """Inventory name of the example's host in each group, by group."""
    run = ansible("ansible", "-i", str(INVENTORY), "--list-hosts", "polardb")
    names = [line.strip() for line in run.stdout.splitlines()[1:]]
    groups = {}
    for group in CONTAINERS:
        listed = ansible("ansible", "-i", str(INVENTORY), "--list-hosts", group).stdout.splitlines()[1:]
        groups[group] = listed[0].strip()
    assert sorted(groups.values()) == sorted(names), run.stdout
    return groups


def test_every_host_is_reached_over_ssh_as_deploy_and_becomes_root_with_sudo(hostvars, hosts):
    for group, name in hosts.items():
        host = hostvars[name]
        assert host.get("ansible_connection", "ssh") == "ssh", host
        assert host["ansible_user"] == "deploy" and host["ansible_become"] is True, host
        assert host["ansible_host"] == labtools.container_ip(CONTAINERS[group]), host
    login = ansible("ansible", "-i", str(INVENTORY), "polardb", "-e", "ansible_become=false",
                    "-m", "ansible.builtin.command", "-a", "id -un")
    became = ansible("ansible", "-i", str(INVENTORY), "polardb", "-m", "ansible.builtin.command", "-a", "id -un")
    for name in hosts.values():
        assert re.search(r"^%s \| CHANGED \| rc=0 >>\ndeploy$" % re.escape(name), login.stdout, re.M), login.stdout
        assert re.search(r"^%s \| CHANGED \| rc=0 >>\nroot$" % re.escape(name), became.stdout, re.M), became.stdout


def test_sshd_let_only_deploy_in_and_refuses_root():
    for container in CONTAINERS.values():
        assert "permitrootlogin no" in labtools.in_container(container, "sshd -T").stdout.splitlines()
        log = labtools.docker("logs", labtools.PREFIX + container).stderr
        accepted = re.findall(r"Accepted publickey for (\S+) from", log)
        assert accepted and set(accepted) == {"deploy"}, log[-2000:]


def test_the_installed_site_playbook_runs_from_another_folder_and_changes_nothing(tmp_path):
    installed = COLLECTIONS / "ansible_collections" / "polardb" / "cluster"
    assert json.loads((installed / "MANIFEST.json").read_text())["collection_info"]["name"] == "cluster"
    assert not installed.is_symlink() and labtools.PROJECT not in installed.resolve().parents
    listed = ansible("ansible-galaxy", "collection", "list", "polardb.cluster", cwd=tmp_path)
    assert str(COLLECTIONS / "ansible_collections") in listed.stdout, listed.stdout + listed.stderr
    doc = ansible("ansible-doc", "polardb.cluster.pfs_mkfs", cwd=tmp_path)
    assert doc.returncode == 0 and "installed" not in doc.stderr.lower(), doc.stderr
    args = ("-i", str(INVENTORY), "polardb.cluster.site")
    done = ansible("ansible-playbook", *args, cwd=tmp_path)
    run = labtools.PlaybookRun(args, done.returncode, done.stdout + done.stderr, 0)
    assert run.returncode == 0 and len(run.recap) == 3, run.tail()
    assert all(counts["changed"] == counts["unreachable"] == counts["failed"] == 0
               for counts in run.recap.values()), run.tail()


def test_the_followers_stream_from_the_primary_and_a_new_row_reaches_them():
    primary = DATABASE("pb1")
    followers = {labtools.container_ip(CONTAINERS[group]) for group in ("replica", "standby")}
    streaming = primary.query("SELECT client_addr FROM pg_stat_replication WHERE state = 'streaming'")
    assert set(streaming.split()) == followers, streaming
    # Every walsender over TLS.
    assert primary.query("SELECT count(*) FILTER (WHERE ssl) || '/' || count(*) "
                         "FROM pg_stat_replication JOIN pg_stat_ssl USING (pid)") == "2/2"
    primary.query("CREATE TABLE IF NOT EXISTS ssh_probe (id int); INSERT INTO ssh_probe VALUES (42)")
    expected = primary.query("SELECT count(*) FROM ssh_probe")
    for container in ("pb2", "pb3"):
        DATABASE(container).wait_for("SELECT count(*) FROM ssh_probe", expected)
