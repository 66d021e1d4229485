"""Last case, as it leaves pb2 the writer of the shared disk: the read-only replica pb2 is promoted
only with pb1 fenced (two writers on one PFS disk destroy it), and then writes on that disk."""
import re
import time

import faultlab

PROMOTE = ("playbooks/promote.yml", "--limit", "pb2")


def test_the_replica_is_promoted_only_with_the_primary_fenced_and_writes_on_the_shared_disk(lab):
    refused = lab.playbook(*PROMOTE)
    faultlab.assert_refused(refused, r"The primary pb1 still accepts writes: promoting pb2 now would make two "
                                     r"primaries of one system on one shared disk, which destroys it")
    with lab.writer("before-replica-promotion"):
        time.sleep(1)
    lab.db("pb2").wait_for("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '%s') >= 0"
                           % lab.db("pb1").query("SELECT pg_current_wal_lsn()"), "t", 120)
    committed = lab.rows("pb1")

    run = lab.converge(*PROMOTE, "-e", "promote_fence_primary=true")
    # Online promotion on the shared disk continues the primary's WAL: no new timeline.
    assert re.search(r"pb2 was promoted: it accepts writes on timeline 1\.", run.output), run.tail()
    assert lab.sh("pb1", "%s/pg_ctl status -D %s >/dev/null || echo stopped" % (lab.bin, lab.primary_data),
                  user="postgres", check=False) == "stopped"
    assert lab.db("pb2").query("SELECT pg_is_in_recovery()") == "f"
    assert lab.rows("pb2") == committed
    with faultlab.Writer(lab.db("pb2"), "on-promoted-pb2", lab.tmp):
        time.sleep(1)
    assert lab.rows("pb2")[0] > committed[0]
    assert lab.db("pb2").query("SELECT current_setting('polar_disk_name')") == "nvme1n1"
