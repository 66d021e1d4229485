"""Helpers for tests that drive the Docker lab with ansible-playbook."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

PROJECT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
PREFIX = os.environ.get("POLARDB_LAB_PREFIX", "")
LAB_DATA = pathlib.Path(os.environ.get("POLARDB_LAB_DATA", PROJECT / ".lab" / (PREFIX + "polardb-lab")))


def playbook(*args, check=True, timeout=900):
    """Run ansible-playbook from the project; return (returncode, stdout, {host: changed})."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    run = subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=PROJECT, env=env,
                         capture_output=True, text=True, timeout=timeout)
    output = run.stdout + run.stderr
    if check:
        assert run.returncode == 0, output[-4000:]
    changed = {host: int(n) for host, n in
               re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", run.stdout, re.M)}
    return run.returncode, output, changed


def docker(*args, check=True):
    run = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if check:
        assert run.returncode == 0, run.stderr
    return run


def in_container(name, script, check=True):
    return docker("exec", PREFIX + name, "sh", "-c", script, check=check)


def attached_lab_devices():
    """Loop devices of this machine whose backing file lives in the lab's data folder."""
    found = []
    for image in LAB_DATA.rglob("*"):
        if image.is_file():
            run = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True)
            found += [line.split(":")[0] for line in run.stdout.splitlines() if line]
    return found


class Lab:
    """What the tests use of the lab: playbook runs, docker, the data folder."""
    data = LAB_DATA
    prefix = PREFIX
    network = PREFIX + "polardb-lab"
    playbook = staticmethod(playbook)
    docker = staticmethod(docker)
    in_container = staticmethod(in_container)
    attached_devices = staticmethod(attached_lab_devices)


@pytest.fixture(scope="module")
def lab():
    playbook("playbooks/lab.yml")
    yield Lab
    playbook("playbooks/lab.yml", "-e", "lab_state=absent")
