"""What the lab tests share: ansible-playbook runs, docker, psql in the lab's containers.

Imported as ``labtools`` (pytest.ini puts tests/ on the path) by
tests/integration, tests/faults, tests/faults_polardb and the molecule scenarios'
tests. Everything is named after POLARDB_LAB_PREFIX, so tests only ever touch
their own lab.
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import time

PROJECT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
PREFIX = os.environ.get("POLARDB_LAB_PREFIX", "")
NETWORK = PREFIX + "polardb-lab"
LAB_DATA = pathlib.Path(os.environ.get("POLARDB_LAB_DATA", PROJECT / ".lab" / NETWORK))
SOCKET_DIR = "/var/run/postgresql"
POLARDB_BIN = "/home/postgres/tmp_polardb_pg_15_base/bin"
# Deprecation warnings of the libraries ansible-core imports (on its own or through a worker): noise in a
# failure's tail, where they would push out the lines that say what failed.
NOISE = re.compile(r"^\[WARNING\]: WorkerProcess for \[[^\n]*\] errantly sent data directly to stderr[^\n]*\n"
                   r"(?:[ \t]+[^\n]*\n|\n)*|^[^\n]*DeprecationWarning: [^\n]*\n(?:  from [^\n]*\n)?", re.M)
FAILURE_LINE = re.compile(r"^(fatal: |failed: |ERROR! |\[ERROR\]: )")
RECAP_LINE = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class PlaybookRun:
    """One ansible-playbook run: exit code, stdout+stderr, PLAY RECAP, seconds taken."""

    def __init__(self, args, returncode, output, seconds):
        self.args, self.returncode, self.output, self.seconds = args, returncode, output, seconds
        self.recap = {host: dict(ok=int(ok), changed=int(changed), unreachable=int(unreachable), failed=int(failed))
                      for host, ok, changed, unreachable, failed in RECAP_LINE.findall(output)}

    @property
    def changed(self):
        return {host: counts["changed"] for host, counts in self.recap.items()}

    def tail(self, chars=4000):
        """The run's failures first, then the end of its output without the warnings Python libraries print."""
        output = NOISE.sub("", self.output)
        failures = "\n".join(line[:1500] for line in output.splitlines() if FAILURE_LINE.match(line))
        return "ansible-playbook %s (exit %d, %.0fs):\n%s%s" % (
            " ".join(self.args), self.returncode, self.seconds,
            "failures:\n%s\n...\n" % failures if failures else "", output[-chars:])


def ansible_env(**extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")),
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    env.update(extra)
    return env


def start_playbook(*args, log=None):
    """ansible-playbook in the background; its output goes to the file log."""
    handle = open(log, "w")
    process = subprocess.Popen([str(BIN / "ansible-playbook"), *args], cwd=PROJECT, env=ansible_env(),
                               stdout=handle, stderr=subprocess.STDOUT, text=True)
    process.started, process.log, process.args = time.monotonic(), log, args
    handle.close()
    return process


def finish_playbook(process, timeout=900):
    process.wait(timeout=timeout)
    output = pathlib.Path(process.log).read_text()
    return PlaybookRun(process.args, process.returncode, output, time.monotonic() - process.started)


def run_playbook(*args, timeout=900):
    """Run ansible-playbook from the project; return a PlaybookRun."""
    started = time.monotonic()
    run = subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=PROJECT, env=ansible_env(),
                         capture_output=True, text=True, timeout=timeout)
    return PlaybookRun(args, run.returncode, run.stdout + run.stderr, time.monotonic() - started)


def playbook(*args, check=True, timeout=900):
    """Run ansible-playbook from the project; return (returncode, output, {host: changed})."""
    run = run_playbook(*args, timeout=timeout)
    if check:
        assert run.returncode == 0, run.tail()
    return run.returncode, run.output, run.changed


def run_module(host, module, args, check=False, become_user=None):
    """Run polardb.cluster.MODULE on HOST ad hoc, as users do; return that host's parsed result."""
    command = [str(BIN / "ansible"), host, "-m", "polardb.cluster." + module, "-a", json.dumps(args)]
    if check:
        command += ["--check", "--diff"]
    if become_user:
        command += ["--become", "--become-user", become_user]
    env = ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    run = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    try:
        result = json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"][host]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("no JSON result from %s (exit %d):\n%s\n%s"
                             % (" ".join(command), run.returncode, run.stdout[-2000:], run.stderr[-2000:]))
    assert not result.get("unreachable"), result
    return result


def succeeded(result):
    assert not result.get("failed"), result.get("msg", result)
    return result


def docker(*args, check=True, timeout=300):
    run = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert run.returncode == 0, "docker %s: %s" % (" ".join(args), run.stderr)
    return run


def in_container(name, script, check=True, user=None, timeout=300):
    """sh -c SCRIPT in the lab container of host NAME."""
    return docker("exec", *(["-u", user] if user else []), PREFIX + name, "sh", "-c", script,
                  check=check, timeout=timeout)


def attached_lab_devices():
    """Loop devices of this machine whose backing file lives in the lab's data folder (by inode)."""
    found = []
    for image in LAB_DATA.rglob("*"):
        if image.is_file():
            run = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True)
            found += [line.split(":")[0] for line in run.stdout.splitlines() if line]
    return found


def container_ip(name):
    """Address of host NAME's container on the lab network ('' when it is not attached or absent)."""
    run = docker("inspect", "-f", '{{with index .NetworkSettings.Networks "%s"}}{{.IPAddress}}{{end}}' % NETWORK,
                 PREFIX + name, check=False)
    return run.stdout.strip() if run.returncode == 0 else ""


def loop_device_behind_alias(host, alias="/dev/nvme2n1", image="/data/VirtualDisk_standby.img"):
    """The loop device a testinfra host's alias points at, asserted to back image with direct I/O."""
    target = host.check_output("readlink -f %s", alias)
    assert re.fullmatch(r"/dev/loop\d+", target), target
    assert host.check_output("cat /sys/block/%s/loop/dio", target.rsplit("/", 1)[1]) == "1"
    assert host.check_output("losetup -j %s -O NAME -n", image).split()[0] == target
    return target


class Database:
    """psql on one lab host, as the postgres user over the local socket."""

    psql = "psql"
    socket_dir = SOCKET_DIR

    def __init__(self, name):
        self.name = name

    def exec_args(self, *args, interactive=False):
        """Arguments of `docker` that run psql ARGS on this host (-i keeps its standard input open)."""
        return ["exec", *(["-i"] if interactive else []), "-u", "postgres", PREFIX + self.name,
                self.psql, "-h", self.socket_dir, "-X", *args]

    def run(self, sql, timeout=60):
        return docker(*self.exec_args("-At", "-v", "ON_ERROR_STOP=1", "-c", sql), check=False, timeout=timeout)

    def query(self, sql, timeout=60):
        result = self.run(sql, timeout=timeout)
        assert result.returncode == 0, "%s: %s: %s" % (self.name, sql, result.stderr)
        return result.stdout.strip()

    def try_query(self, sql):
        """The answer, or None when the server does not answer."""
        result = self.run(sql, timeout=30)
        return result.stdout.strip() if result.returncode == 0 else None

    def wait_for(self, sql, expected, timeout=60):
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.try_query(sql)
            if value == expected:
                return value
            time.sleep(1)
        raise AssertionError("%s: %r gave %r, not %r within %ss" % (self.name, sql, value, expected, timeout))


class PolarDatabase(Database):
    """PolarDB's own psql, its socket in /tmp."""

    psql = POLARDB_BIN + "/psql"
    socket_dir = "/tmp"


class Lab:
    """What the tests use of the lab: playbook runs, docker, the data folder."""
    data = LAB_DATA
    prefix = PREFIX
    network = NETWORK
    playbook = staticmethod(playbook)
    docker = staticmethod(docker)
    in_container = staticmethod(in_container)
    attached_devices = staticmethod(attached_lab_devices)


STATUS_JSON_TASK = "TASK [Replication status as JSON]"


def status_document(output):
    """What playbooks/status.yml -e status_format=json printed (its one task's msg), as a dict keyed by host."""
    assert output.count(STATUS_JSON_TASK) == 1, output[-3000:]
    printed = output[output.index(STATUS_JSON_TASK):]
    printed = printed[printed.index("=> ") + len("=> "):]
    result, _ = json.JSONDecoder().raw_decode(printed)
    return result["msg"]
