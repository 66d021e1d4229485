"""Lab hosts of the PolarDB scenario: PolarDB's own psql, its socket in /tmp."""
import pytest
import testinfra

from labtools import PREFIX, Database, docker

POLARDB_BIN = "/home/postgres/tmp_polardb_pg_15_base/bin"


class PolarDatabase(Database):
    def run(self, sql, timeout=60):
        return docker("exec", "-u", "postgres", PREFIX + self.name, POLARDB_BIN + "/psql", "-h", "/tmp",
                      "-AtX", "-v", "ON_ERROR_STOP=1", "-c", sql, check=False, timeout=timeout)


@pytest.fixture(scope="session")
def pb3():
    return testinfra.get_host("docker://%spb3" % PREFIX)


@pytest.fixture(scope="session")
def primary_db():
    return PolarDatabase("pb1")


@pytest.fixture(scope="session")
def standby_db():
    return PolarDatabase("pb3")


@pytest.fixture(scope="session")
def replica_db():
    return PolarDatabase("pb2")
