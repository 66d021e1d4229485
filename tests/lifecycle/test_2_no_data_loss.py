"""Failover, switchover and rebuild never lose an acknowledged commit, nor make two writers.

A ledger client writes rows with unique ids and keeps the ids whose commits
were acknowledged. After each operation every acknowledged row is on the
cluster's primary, or in the copy the tool kept and named. Runs after
test_1 (pb1 the primary, pb3 its streaming standby) and leaves the lab so.
"""
import re

import pytest

import faultlab
from lifecycle_steps import aside, kept_rows, pg_ctl, write

PROMOTE = ("playbooks/promote.yml", "--limit", "pb3")
PRIMARY_AUTO_CONF = "/var/lib/postgresql/primary/postgresql.auto.conf"


def in_recovery(lab, host):
    return lab.db(host).query("SELECT pg_is_in_recovery()") == "t"


def assert_failed(run, *messages):
    """The run failed and said each of messages; unlike a refusal, it may have changed things before."""
    assert run.returncode != 0, run.tail()
    for message in messages:
        assert re.search(message, run.output), "%r not in the output\n%s" % (message, run.tail())


def cut_off_pb1(lab):
    """An inventory in which the controller cannot reach pb1, which goes on running and taking writes."""
    return lab.inventory("pb1-cut-off", host_vars={"pb1": {"ansible_docker_host": "no-such-container"}})


def test_promote_refuses_when_the_primary_cannot_be_asked(lab):
    cut = cut_off_pb1(lab)
    refused = lab.playbook("-i", cut, *PROMOTE)
    faultlab.assert_refused(refused, r"Could not prove that the primary pb1 no longer writes: its host could not "
                                     r"be asked", r"-e promote_primary_is_down=true")
    fenced = lab.playbook("-i", cut, *PROMOTE, "-e", "promote_fence_primary=true")
    faultlab.assert_refused(fenced, r"Could not prove that the primary pb1 no longer writes")
    checked = lab.playbook("-i", cut, *PROMOTE, "--check", "-e", "promote_primary_is_down=true")
    assert checked.returncode == 0 and checked.changed["pb3"] == 0, checked.tail()
    assert re.search(r"Check mode: would\s+promote pb3 \(pb1: its host could not be asked", checked.output), \
        checked.tail()
    assert in_recovery(lab, "pb3")
    lab.assert_healthy()


def test_a_follower_that_cannot_start_keeps_its_data_and_the_run_names_why(lab):
    ledger = write(lab, "before-failed-follow")
    inode = lab.sh("pb1", "stat -c %i /var/lib/postgresql/primary/PG_VERSION")
    lab.sh("pb1", "echo \"shared_buffers = 'plenty'\" >> %s" % PRIMARY_AUTO_CONF, user="postgres")

    run = lab.playbook("playbooks/switchover.yml", "-e", "switchover_to=pb3")
    assert_failed(run, r"pb1 did not start as a follower of pb3 \(pg_ctl start:",
                            r"Its data in /var/lib/postgresql/primary was not touched",
                            r"invalid value for parameter \\?\"shared_buffers\\?\"")
    assert lab.sh("pb1", "stat -c %i /var/lib/postgresql/primary/PG_VERSION") == inode
    assert aside(lab, "pb1", "/var/lib/postgresql/primary.old*") == []
    assert not in_recovery(lab, "pb3") and ledger.missing(lab.db("pb3")) == []

    # Mended, the same request makes pb1 follow pb3 with nothing lost, then the roles swap back.
    lab.sh("pb1", "sed -i '/plenty/d' %s" % PRIMARY_AUTO_CONF, user="postgres")
    lab.converge("playbooks/switchover.yml", "-e", "switchover_to=pb3")
    assert in_recovery(lab, "pb1") and lab.sh("pb1", "stat -c %i /var/lib/postgresql/primary/PG_VERSION") == inode
    lab.converge("playbooks/switchover.yml", "-e", "switchover_to=pb1")
    assert not in_recovery(lab, "pb1") and ledger.missing(lab.db("pb1")) == []
    lab.assert_healthy()


def test_a_former_primary_that_diverged_is_kept_until_asked_then_copied_aside_whole_and_rewound(lab):
    standby = lab.standby_data
    # The operator's word that pb1 is down, while it is only cut off: pb3 becomes a second primary.
    run = lab.converge("-i", cut_off_pb1(lab), *PROMOTE, "-e", "promote_primary_is_down=true")
    receipt = lab.receipt("pb3")
    assert receipt["bytes_lost"] is None and receipt["write_gap_from"] == "the last commit pb3 replayed from pb1"
    assert receipt["bytes_lost_unknown"].startswith("the host of pb1 was not asked where its WAL ends"), receipt
    assert "bytes lost unknown: the host of pb1 was not asked" in run.output, run.tail()
    on_pb3 = write(lab, "on-pb3-split", host="pb3")
    on_pb1 = write(lab, "on-pb1-split")

    two = lab.playbook("playbooks/switchover.yml", "-e", "switchover_to=pb1")
    faultlab.assert_refused(two, r"A switchover needs exactly one running primary among .*found pb1 and pb3")
    pg_ctl(lab, "pb3", "stop", standby, "-m", "fast")

    refused = lab.playbook("playbooks/switchover.yml", "-e", "switchover_to=pb1")
    faultlab.assert_refused(refused, r"pb3 diverged from pb1: it is on timeline \d+, which the upstream \(timeline \d+\) "
                                     r"never had", r"It was a primary, so nothing of it was changed",
                            r"-e switchover_reseed_former_primary=true")
    assert aside(lab, "pb3", standby + ".old-*") == []

    run = lab.converge("playbooks/switchover.yml", "-e", "switchover_to=pb1", "-e",
                       "switchover_reseed_former_primary=true")
    kept = aside(lab, "pb3", standby + ".old-*")
    assert len(kept) == 1 and "its old data is kept in %s" % kept[0] in run.output, run.tail()
    # pg_rewind, not a fresh copy (pb1 ran throughout: nothing to swap, so no receipt, only the sentence).
    assert re.search(r"Rejoined: pb3 rewound \(pg_rewind\) in [0-9.]+ s, its old directory kept in %s \(copied "
                     r"there in [0-9.]+ s\)\." % re.escape(kept[0]), run.output), run.tail()
    lab.assert_healthy()
    lab.wait_caught_up()
    # The rewound pb3 holds pb1's history and none of its own split; what pb3 acknowledged as a primary is
    # not pb1's, and is all in the copy kept aside.
    assert on_pb1.missing(lab.db("pb1")) == [] and on_pb1.missing(lab.db("pb3")) == []
    assert on_pb3.missing(lab.db("pb1")) == sorted(on_pb3.acknowledged())
    assert on_pb3.missing(lab.db("pb3")) == sorted(on_pb3.acknowledged())
    assert kept_rows(lab, "pb3", kept[0], "on-pb3-split") >= on_pb3.acknowledged()
    lab.sh("pb3", "rm -rf %s %s.log" % (kept[0], kept[0]))
    lab.converge("site.yml")
    lab.assert_healthy()


@pytest.mark.full(reason="checked by make test-full only")
def test_a_diverged_host_that_pg_rewind_cannot_bring_back_is_copied_again_its_old_directory_kept(lab):
    standby = lab.standby_data
    lab.converge("-i", cut_off_pb1(lab), *PROMOTE, "-e", "promote_primary_is_down=true")
    on_pb3 = write(lab, "on-pb3-unrewindable", host="pb3")
    pg_ctl(lab, "pb3", "stop", standby, "-m", "fast")
    # A file pg_rewind must replace and cannot open as the database user.
    lab.sh("pb3", "chown root:root {0}/postgresql.auto.conf && chmod 600 {0}/postgresql.auto.conf".format(standby))

    run = lab.converge("playbooks/switchover.yml", "-e", "switchover_to=pb1", "-e",
                       "switchover_reseed_former_primary=true")
    kept = aside(lab, "pb3", standby + ".old-*")
    assert len(kept) == 1, kept
    assert re.search(r"Rejoined: pb3 copied again in [0-9.]+ s \(pg_rewind did not bring it back: pg_rewind: "
                     r"error: could not open target file \S*postgresql\.auto\.conf\S*: Permission denied\), its old "
                     r"directory kept in %s \(copied there in [0-9.]+ s\)\." % re.escape(kept[0]), run.output), \
        run.tail()
    lab.assert_healthy()
    assert on_pb3.missing(lab.db("pb3")) == sorted(on_pb3.acknowledged())
    # The copy kept aside is the directory as it was, before pg_rewind touched it.
    lab.sh("pb3", "chown postgres:postgres %s/postgresql.auto.conf" % kept[0])
    assert kept_rows(lab, "pb3", kept[0], "on-pb3-unrewindable") >= on_pb3.acknowledged()
    lab.sh("pb3", "rm -rf %s %s.log" % (kept[0], kept[0]))
    lab.converge("site.yml")
    lab.assert_healthy()


def test_force_never_overrides_a_promotion_and_a_promoted_node_is_rebuilt_only_when_asked(lab):
    standby = lab.standby_data
    lab.converge(*PROMOTE, "-e", "promote_fence_primary=true")
    on_pb3 = write(lab, "on-promoted-pb3", host="pb3")
    pg_ctl(lab, "pb3", "stop", standby, "-m", "fast")
    pg_ctl(lab, "pb1", "start", "/var/lib/postgresql/primary")
    inode = lab.sh("pb3", "stat -c %%i %s/PG_VERSION" % standby)

    for args in (("site.yml", "-e", "standby_force=true"), ("site.yml", "--limit", "pb3", "-e", "standby_force=true")):
        run = lab.playbook(*args)
        faultlab.assert_refused(run, r"pb3 was promoted: it stopped as a primary \(its pg_control says \"shut down\", "
                                     r"without standby.signal\) on timeline \d+", r"No force setting overrides this")
    refused = lab.playbook("playbooks/rebuild.yml", "--limit", "pb3")
    faultlab.assert_refused(refused, r"pb3 may hold writes no other node has: it is on timeline \d+, the primary on "
                                     r"\d+\. A rebuild would replace it", r"-e rebuild_promoted=true")
    assert lab.sh("pb3", "stat -c %%i %s/PG_VERSION" % standby) == inode

    run = lab.converge("playbooks/rebuild.yml", "--limit", "pb3", "-e", "rebuild_promoted=true")
    assert "What it held as a primary is kept in %s.old" % standby in run.output, run.tail()
    lab.assert_healthy()
    assert kept_rows(lab, "pb3", standby + ".old", "on-promoted-pb3") >= on_pb3.acknowledged()
    lab.sh("pb3", "rm -rf %s.old %s.old.log" % (standby, standby))
    lab.converge("site.yml")
    lab.assert_healthy()
