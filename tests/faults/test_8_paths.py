"""A data directory, image or record path that is not one of the collection's own is refused on the first
play, naming the variable, before any host changes: never with advice to set force or grow."""
import re

import pytest

from faultlab import assert_refused


@pytest.mark.parametrize("variable, value, message", [
    ("standby_data_dir", "/var/lib/../../etc", r"pb3: standby_data_dir /var/lib/\.\./\.\./etc is not a normalised path"),
    ("standby_data_dir", "/", r"pb3: standby_data_dir is /, the root folder"),
    ("standby_data_dir", "", r"pb3: standby_data_dir is empty: it must be an absolute path"),
    ("storage_image", "/data/../etc/passwd", r"pb3: storage_image /data/\.\./etc/passwd is not a normalised path"),
    ("polardb_state_file", "node-state.json", r"polardb_state_file node-state.json is a relative path"),
])
def test_a_path_that_is_not_ours_is_refused_before_anything_changes(lab, variable, value, message):
    before = lab.fingerprint()
    run = lab.playbook("site.yml", "-e", "%s=%s" % (variable, value))
    assert_refused(run, message)
    assert not re.search(r"force=|grow: true|parent directory", run.output), run.tail()
    # The first play, before the records are forgotten.
    assert "Forget this host's record" not in run.output, run.tail()
    assert lab.fingerprint() == before
