"""Failover to pb3, the old inventory refused, switchover back to pb1, rebuild of a pb3 left behind.

Each step compares the rows (count and md5 of the whole table) the writer left
on the primary with those on the other host: nothing committed is lost.
"""
import re
import time

import pytest

import faultlab
import labtools

PROMOTE = ("playbooks/promote.yml", "--limit", "pb3")
PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"


def in_recovery(lab, host):
    return lab.db(host).query("SELECT pg_is_in_recovery()") == "t"


def write_rows(lab, host, tag, seconds=1):
    with faultlab.Writer(lab.db(host), tag, lab.tmp):
        time.sleep(seconds)


def test_promote_refuses_while_pb1_accepts_writes_and_check_mode_changes_nothing(lab):
    refused = lab.playbook(*PROMOTE)
    faultlab.assert_refused(refused, r"The primary pb1 still accepts writes: promoting pb3 now would make two "
                                     r"primaries of one system\. Stop pb1 first, or run again with "
                                     r"-e promote_fence_primary=true")
    checked = lab.playbook(*PROMOTE, "--check", "-e", "promote_fence_primary=true")
    assert checked.returncode == 0 and checked.changed["pb3"] == 0, checked.tail()
    assert in_recovery(lab, "pb3") and not in_recovery(lab, "pb1")
    lab.assert_healthy()

    nothing = lab.playbook(*PROMOTE[:2], "pb1")
    faultlab.assert_refused(nothing, r"pb1 is the primary of the inventory: promote\.yml promotes a follower")


def test_promote_with_fencing_stops_pb1_and_pb3_takes_every_row(lab):
    write_rows(lab, "pb1", "before-failover")
    lab.wait_caught_up()
    committed = lab.rows("pb1")

    run = lab.converge(*PROMOTE, "-e", "promote_fence_primary=true")
    assert re.search(r"pb3 was promoted: it accepts writes on timeline 2\.", run.output), run.tail()
    assert lab.sh("pb1", "pgrep -x postgres || echo stopped") == "stopped"
    assert not in_recovery(lab, "pb3") and lab.rows("pb3") == committed
    # Its receipt: nothing lost, as the rows say; the gap and the time to the first write measured.
    line = lab.assert_receipt(run, "promote", "pb3", "pb1", 2)
    receipt = lab.receipt("pb3")
    assert receipt["line"] in line and receipt["bytes_lost"] == 0 and receipt["timeline"] == 2
    assert 0 < receipt["write_gap_seconds"] <= receipt["seconds_to_writable"], receipt
    assert int(receipt["first_xid"]) > 0 and receipt["old_primary_end_lsn"] is not None

    write_rows(lab, "pb3", "on-promoted-pb3")
    assert lab.rows("pb3")[0] > committed[0]
    again = lab.converge(*PROMOTE)
    assert again.changed["pb3"] == 0 and "it was promoted already" in again.output, again.tail()


def test_site_with_the_old_inventory_refuses_and_changes_nothing(lab):
    for args in (("site.yml",), ("site.yml", "--limit", "pb3"), ("site.yml", "--tags", "standby")):
        run = lab.playbook(*args)
        faultlab.assert_refused(run, r"pb3 was promoted: it runs as a primary on timeline 2\. The inventory still "
                                     r"makes pb3 a follower of pb1")
    assert lab.sh("pb1", "pgrep -x postgres || echo stopped") == "stopped"
    assert not in_recovery(lab, "pb3")


def test_switchover_back_makes_pb1_the_primary_and_pb3_its_standby_without_losing_a_row(lab):
    write_rows(lab, "pb3", "before-switchover")
    committed = lab.rows("pb3")

    assert lab.playbook("playbooks/switchover.yml", "-e", "switchover_to=pb1", "--check").changed == \
        {"pb1": 0, "pb3": 0}
    run = lab.converge("playbooks/switchover.yml", "-e", "switchover_to=pb1")
    assert "pb1 is the primary now; pb3 streams from it." in run.output, run.tail()
    assert not in_recovery(lab, "pb1") and in_recovery(lab, "pb3")
    assert lab.rows("pb1") == committed
    lab.assert_receipt(run, "switchover", "pb1", "pb3", 3)
    status = labtools.status_document(lab.converge("playbooks/status.yml", "-e", "status_format=json").output)
    receipt = status["pb1"]["last_receipt"]
    assert receipt["operation"] == "switchover" and receipt["old_primary"] == "pb3", receipt
    assert receipt["bytes_lost"] == 0 and receipt["write_gap_seconds"] > 0 and receipt["seconds_to_writable"] > 0
    # Each had replayed the other's shutdown checkpoint: both follow as they are, nothing set aside.
    for host in ("pb1", "pb3"):
        rejoined = receipt["rejoined"][host]
        assert rejoined["method"] == "restart" and rejoined["kept_in"] is None and float(rejoined["seconds"]) > 0, \
            receipt
    assert re.search(r"Rejoined: pb1 followed as it was in [0-9.]+ s; pb3 followed as it was in [0-9.]+ s\.",
                     run.output), run.tail()
    with lab.writer("after-switchover"):
        time.sleep(1)
    assert lab.assert_healthy() > committed[0]

    # The inventory holds again: nothing left to do for the site or the switchover.
    site = lab.converge("site.yml")
    assert all(count == 0 for count in site.changed.values()), site.tail()
    again = lab.converge("playbooks/switchover.yml", "-e", "switchover_to=pb1")
    assert all(count == 0 for count in again.changed.values()), again.tail()


@pytest.mark.full(reason="tests/lifecycle/test_2 switches over to pb3 and back with a ledger in the gate")
def test_a_planned_switchover_to_pb3_and_back_loses_nothing(lab):
    with lab.writer("before-planned-switchover"):
        time.sleep(1)
    committed = lab.rows("pb1")
    lab.converge("playbooks/switchover.yml", "-e", "switchover_to=pb3")
    assert not in_recovery(lab, "pb3") and in_recovery(lab, "pb1")
    assert lab.rows("pb3") == committed
    write_rows(lab, "pb3", "on-pb3-after-planned-switchover")
    committed = lab.rows("pb3")

    lab.converge("playbooks/switchover.yml", "-e", "switchover_to=pb1")
    assert not in_recovery(lab, "pb1") and lab.rows("pb1") == committed
    lab.assert_healthy()
    assert all(count == 0 for count in lab.converge("site.yml").changed.values())


@pytest.mark.full(reason="tests/lifecycle/test_2 rebuilds a promoted node in the gate")
def test_rebuild_reseeds_a_standby_whose_slot_was_dropped_and_wal_removed(lab):
    lab.sh("pb3", "%s stop -m fast -w -D %s" % (PG_CTL, lab.standby_data), user="postgres")
    lab.db("pb1").query("SELECT pg_drop_replication_slot('pb3')")
    with lab.writer("while-pb3-is-behind"):
        for _ in range(4):
            lab.db("pb1").query("SELECT pg_switch_wal(); CHECKPOINT")
            time.sleep(0.3)
    lab.sh("pb3", "%s start -w -D %s -l %s.log" % (PG_CTL, lab.standby_data, lab.standby_data), user="postgres")
    # It cannot stream: its slot is gone (and so is the WAL it would need).
    lab.sh("pb3", "for i in $(seq 30); do grep -q -e 'has already been removed' -e 'replication slot \"pb3\" does "
                  "not exist' %s.log && exit 0; sleep 1; done; exit 1" % lab.standby_data)

    checked = lab.playbook("playbooks/rebuild.yml", "--limit", "pb3", "--check")
    assert checked.returncode == 0, checked.tail()
    assert lab.sh("pb3", "test -e %s.old || echo none" % lab.standby_data) == "none"

    refused = lab.playbook("playbooks/rebuild.yml", "--limit", "pb1")
    faultlab.assert_refused(refused, r"pb1 is not a standby \(it is in group primary\): rebuild\.yml reseeds "
                                     r"standbys only")

    with lab.writer("during-rebuild"):
        run = lab.converge("playbooks/rebuild.yml", "--limit", "pb3")
    assert "Set the old data aside" in faultlab.changed_tasks(run, "pb3"), run.tail()
    assert lab.sh("pb3", "test -e %s.old || echo none" % lab.standby_data) == "none"
    assert lab.db("pb1").query("SELECT active FROM pg_replication_slots WHERE slot_name = 'pb3'") == "t"
    lab.assert_healthy()
    assert all(count == 0 for count in lab.converge("site.yml").changed.values())
