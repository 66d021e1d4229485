"""The lab for tests that drive it with ansible-playbook (helpers in tests/labtools.py)."""
import pytest

from labtools import Lab


@pytest.fixture(scope="module")
def lab():
    # From nothing: a run killed before its teardown leaves this prefix's containers behind.
    Lab.playbook("playbooks/lab.yml", "-e", "lab_state=absent")
    Lab.playbook("playbooks/lab.yml")
    yield Lab
    Lab.playbook("playbooks/lab.yml", "-e", "lab_state=absent")
