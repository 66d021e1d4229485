"""pb3's container restarts while pb1 writes: a run brings back disk, pfsd and standby on the same PFS data."""
import re
import time

import pytest

import faultlab


@pytest.mark.full(reason="checked by make test-full only")
def test_a_restarted_standby_container_comes_back_on_the_same_pfs_data(lab):
    identity = lab.backup_identity()
    loop_before = lab.sh("pb3", "readlink -f " + lab.alias)
    started = lab.postmaster_start("pb3")
    with lab.writer("container-restart") as writer:
        time.sleep(1)
        lab.docker("restart", lab.prefix + "pb3")
        # What the restart took away: loop node and alias, pfsd, the database.
        assert lab.sh("pb3", "test -e %s || test -e %s || echo gone" % (lab.alias, loop_before)) == "gone"
        assert lab.pfsd_pid() == ""
        assert lab.sh("pb3", "pgrep -x postgres || echo none") == "none"
        # What it kept: the kernel's attachment of the image.
        assert loop_before + ":" in lab.attachments(lab.image)
        # Meanwhile pb1's slot keeps pb3's WAL.
        pb1 = lab.db("pb1")
        pb1.wait_for("SELECT active FROM pg_replication_slots WHERE slot_name = 'pb3'", "f", timeout=60)
        assert pb1.query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'pb3'") in (
            "reserved", "extended")
        rows_while_down = writer.rows()
        run = lab.converge(*lab.rerun, "-v")
    changed = faultlab.changed_tasks(run, "pb3")
    for task in ("Attach the disk image to a loop device behind its alias", "Start pfsd for the disk",
                 "Start the standby"):
        assert task in changed, (task, changed, run.tail())
    # No new base backup: the module found the copy it had made, and said so.
    assert "Take the base backup of the primary" not in changed, run.tail()
    assert re.search(r"Look at the standby's copy of the primary\] \**\nok: \[pb3\] => \{.*\"mode_used\": \"none\"",
                     run.output), run.tail()
    # The same loop device, a new pfsd, a new postmaster, on the same data (local and on PFS).
    assert lab.sh("pb3", "readlink -f " + lab.alias) == loop_before
    assert lab.pfsd_pid() != ""
    assert lab.postmaster_start("pb3") != started
    assert lab.backup_identity() == identity
    assert writer.rows() > rows_while_down > 20
    lab.assert_healthy()
