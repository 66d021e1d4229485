"""Lab hosts for the testinfra checks: the lab's containers, reached with docker exec."""
import pytest
import testinfra

from labtools import PREFIX, PROJECT, Database

INVENTORY = str(PROJECT / "inventory" / "lab")


def lab_host(name):
    return testinfra.get_host("docker://%s%s" % (PREFIX, name))


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
def primary_db():
    return Database("pb1")


@pytest.fixture(scope="session")
def standby_db():
    return Database("pb3")


@pytest.fixture(scope="session")
def replica_db():
    return Database("pb2")
