"""The lab for tests that drive it with ansible-playbook (helpers in tests/labtools.py)."""
import pytest

import labtools
from labtools import Lab


@pytest.fixture(scope="module")
def lab():
    if not labtools.PREFIX:
        pytest.exit("Set POLARDB_LAB_PREFIX (make test-lab uses it-): these tests remove their lab, so they never "
                    "run on the unprefixed lab of `make demo`.", returncode=4)
    # From nothing: a run killed before its teardown leaves this prefix's containers behind.
    Lab.playbook("playbooks/lab.yml", "-e", "lab_state=absent")
    Lab.playbook("playbooks/lab.yml")
    yield Lab
    Lab.playbook("playbooks/lab.yml", "-e", "lab_state=absent")
