"""A run that finds every host as its last full run left it stops after one call per host;
anything that moved since brings the full run back, which puts it right.

- the no-change run and --check run no role task, and say so host by host;
- a hand-edited settings file, a dropped slot, a stopped standby: the next run names what
  moved, goes through every role, repairs it, and the run after it is short again;
- a run with --tags, or with polardb_skip_when_unchanged off, goes through its roles.
"""
import re

import pytest

import faultlab

ROLE_TASK = "Ask whether the standby runs"


def short(lab, *args):
    run = lab.converge("site.yml", *args)
    assert all(count == 0 for count in run.changed.values()), run.tail()
    assert "TASK [End this play, every host is as its last full run left it]" in run.output, run.tail()
    for never in (ROLE_TASK, "Say why the full run follows", "included: polardb.cluster.host"):
        assert never not in run.output, run.tail()
    return run


def full(lab, *moved):
    """moved: (host, what) pairs, each named in that host's line."""
    run = lab.converge("site.yml")
    assert "a full run follows: " in run.output, run.tail()
    for host, what in moved:
        assert re.search(r'"%s": "a full run follows: .*%s' % (host, re.escape(what)), run.output), run.tail()
    assert ROLE_TASK in run.output, run.tail()
    return run


@pytest.mark.full(reason="checked by make test-full only")
def test_a_run_that_finds_nothing_changed_stops_after_one_call_per_host(lab):
    lab.converge("site.yml")
    run = short(lab, "-v")
    # (earlier cases may have left pb1 more slots than pb2's and pb3's)
    for host, said in (("pb1", r"accepts writes; replication slots: pb2, pb3\b"),
                       ("pb3", r"in recovery, streaming from pb1 through slot pb3\b")):
        assert re.search(r'ok: \[%s\] => .*"msg": "as the full run of \S+ left it: %s' % (host, said), run.output), \
            run.tail()
    assert "Remember what this host is after the full run] ***\nskipping" in run.output, run.tail()
    short(lab, "--check")


@pytest.mark.full(reason="checked by make test-full only")
def test_a_hand_edited_settings_file_brings_the_full_run_back_and_is_put_right(lab):
    settings = lab.standby_data + "/polardb_standby.conf"
    before = lab.sh("pb3", "md5sum " + settings)
    lab.sh("pb3", "echo 'work_mem = 1GB' >> " + settings)
    checked = lab.converge("site.yml", "--check")
    assert "a full run follows: " in checked.output and checked.changed["pb3"] > 0, checked.tail()
    run = full(lab, ("pb3", settings))
    assert faultlab.changed_tasks(run, "pb3"), run.tail()
    assert lab.sh("pb3", "md5sum " + settings) == before
    short(lab)


@pytest.mark.full(reason="checked by make test-full only")
def test_a_dropped_slot_and_a_stopped_standby_are_seen_and_repaired(lab):
    lab.sh("pb3", "%s/pg_ctl stop -m fast -D %s" % (lab.pg_bin, lab.standby_data), user="postgres")
    lab.db("pb1").query("SELECT pg_drop_replication_slot('pb3')")
    full(lab, ("pb1", "server slots"), ("pb3", "server answers"))
    lab.assert_healthy()
    short(lab)


@pytest.mark.full(reason="checked by make test-full only")
def test_tags_and_the_switch_go_through_the_roles(lab):
    tagged = lab.converge("site.yml", "--tags", "standby")
    assert ROLE_TASK in tagged.output and "as the full run of" not in tagged.output, tagged.tail()
    switched = lab.converge("site.yml", "-e", "polardb_skip_when_unchanged=false")
    assert ROLE_TASK in switched.output and "as the full run of" not in switched.output, switched.tail()
    assert all(count == 0 for count in switched.changed.values()), switched.tail()
    short(lab)
