"""Lab hosts of the PolarDB scenario: PolarDB's own psql, its socket in /tmp."""
import pytest
import testinfra

from labtools import PREFIX, PolarDatabase


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
