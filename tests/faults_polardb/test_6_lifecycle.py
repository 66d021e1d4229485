"""The standby's life on real PolarDB: pb3 promoted on its own PFS disk, the old inventory refused,
pb1 back, pb3 rebuilt as its standby. Rows (count and md5) are compared at each step."""
import re
import time

import faultlab

PROMOTE = ("playbooks/promote.yml", "--limit", "pb3")


def in_recovery(lab, host):
    return lab.db(host).query("SELECT pg_is_in_recovery()") == "t"


def test_pb3_is_promoted_only_with_pb1_fenced_and_takes_every_row(lab):
    refused = lab.playbook(*PROMOTE)
    faultlab.assert_refused(refused, r"The primary pb1 still accepts writes: promoting pb3 now would make two "
                                     r"primaries of one system")
    with lab.writer("before-failover"):
        time.sleep(1)
    lab.wait_caught_up()
    committed = lab.rows("pb1")

    run = lab.converge(*PROMOTE, "-e", "promote_fence_primary=true")
    assert re.search(r"pb3 was promoted: it accepts writes on timeline 2\.", run.output), run.tail()
    assert lab.sh("pb1", "%s/pg_ctl status -D %s >/dev/null || echo stopped" % (lab.bin, lab.primary_data),
                  user="postgres", check=False) == "stopped"
    assert not in_recovery(lab, "pb3") and lab.rows("pb3") == committed
    lab.assert_receipt(run, "promote", "pb3", "pb1", 2)
    assert lab.receipt("pb3")["bytes_lost"] == 0
    # pb3 writes on its own PFS disk.
    with faultlab.Writer(lab.db("pb3"), "on-promoted-pb3", lab.tmp):
        time.sleep(1)
    assert lab.rows("pb3")[0] > committed[0]


def test_the_old_inventory_is_refused_before_any_change(lab):
    run = lab.playbook("site.yml")
    faultlab.assert_refused(run, r"pb3 was promoted: it runs as a primary on timeline 2\. The inventory still "
                                 r"makes pb3 a follower of pb1")
    assert not in_recovery(lab, "pb3")


def test_pb3_is_rebuilt_only_when_asked_and_what_it_held_as_a_primary_is_kept(lab):
    # The operator brings pb1 back; pb3 holds writes pb1 never had.
    lab.sh("pb1", "%s/pg_ctl start -w -t 120 -D %s -l %s/primary.log >/dev/null"
           % (lab.bin, lab.primary_data, lab.home), user="postgres")
    refused = lab.playbook("playbooks/rebuild.yml", "--limit", "pb3")
    faultlab.assert_refused(refused, r"pb3 may hold writes no other node has: it runs as a primary",
                            r"-e rebuild_promoted=true")
    assert not in_recovery(lab, "pb3")

    with lab.writer("during-rebuild"):
        run = lab.converge("playbooks/rebuild.yml", "--limit", "pb3", "-e", "rebuild_promoted=true")
    changed = faultlab.changed_tasks(run, "pb3")
    for task in ("Run pg_ctl stop", "Set the old data aside", "Set a promoted node's shared data aside on PFS"):
        assert task in changed, (task, changed, run.tail())
    assert in_recovery(lab, "pb3")
    assert "What it held as a primary is kept in %s.old and /nvme2n1/shared_data.old on PFS" % lab.standby_data \
        in run.output, run.tail()
    assert lab.sh("pb3", "test -d %s.old && echo kept" % lab.standby_data) == "kept"
    assert "global" in lab.sh("pb3", "pfs -C disk ls /nvme2n1/shared_data.old/")
    lab.assert_healthy()

    # The operator looked at the kept copy and discards it: PFS is written only with the database stopped.
    lab.sh("pb3", "%s/pg_ctl stop -m fast -w -D %s >/dev/null" % (lab.bin, lab.standby_data), user="postgres")
    lab.sh("pb3", "pfs -C disk rm -r /nvme2n1/shared_data.old && rm -rf %s.old" % lab.standby_data)
    site = lab.converge("site.yml")
    assert "Start the standby" in faultlab.changed_tasks(site, "pb3"), site.tail()
    lab.assert_healthy()
    assert all(count == 0 for count in lab.converge("site.yml").changed.values())
