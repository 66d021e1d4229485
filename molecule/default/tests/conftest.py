"""Lab hosts for the testinfra checks: the lab's containers, reached with docker exec."""
import os
import pathlib
import time

import pytest
import testinfra

PROJECT = pathlib.Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", pathlib.Path(__file__).parents[3]))
INVENTORY = str(PROJECT / "inventory" / "lab")
SOCKET_DIR = "/var/run/postgresql"


PREFIX = os.environ.get("POLARDB_LAB_PREFIX", "")


def lab_host(name):
    return testinfra.get_host("docker://%s%s" % (PREFIX, name))


class Database:
    """psql on one lab host, as the postgres user over the local socket."""

    def __init__(self, host):
        self.host = host

    def query(self, sql):
        result = self.host.run("sudo -u postgres psql -h %s -AtX -v ON_ERROR_STOP=1 -c %s",
                               SOCKET_DIR, sql)
        assert result.rc == 0, result.stderr
        return result.stdout.strip()

    def wait_for(self, sql, expected, timeout=60):
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.query(sql)
            if value == expected:
                return value
            time.sleep(1)
        raise AssertionError("%r gave %r, not %r within %ss" % (sql, value, expected, timeout))


@pytest.fixture(scope="session")
def project_dir():
    return PROJECT


@pytest.fixture(scope="session")
def inventory():
    return INVENTORY


@pytest.fixture(scope="session")
def pb1():
    return lab_host("pb1")


@pytest.fixture(scope="session")
def pb3():
    return lab_host("pb3")


@pytest.fixture(scope="session")
def primary_db(pb1):
    return Database(pb1)


@pytest.fixture(scope="session")
def standby_db(pb3):
    return Database(pb3)


@pytest.fixture(scope="session")
def replica_db():
    return Database(lab_host("pb2"))
