"""The status of the built cluster, as data: what the later steps change is read from it."""
import re
import time

import pytest

import faultlab
import labtools


def test_status_json_shows_each_role_its_slot_and_the_wal_retention(lab):
    run = lab.converge("playbooks/status.yml", "-e", "status_format=json")
    status = labtools.status_document(run.output)
    assert sorted(status) == ["pb1", "pb2", "pb3"]
    primary, standby = status["pb1"], status["pb3"]
    assert primary["role"] == "primary" and primary["timeline"] == 1
    followers = dict((follower["name"], follower) for follower in primary["followers"])
    assert followers["pb3"]["state"] == "streaming" and followers["pb3"]["slot"]["active"] is True
    assert followers["pb3"]["slot"]["wal_status"] == "reserved" and followers["pb3"]["slot"]["safe_wal_size"] > 0
    # The WAL a slot may hold back is bounded on the primary, and on the standby for when it is promoted.
    assert primary["max_slot_wal_keep_size"] == standby["max_slot_wal_keep_size"] == "8GB"
    assert standby["role"] == "standby" and standby["in_recovery"] is True and standby["timeline"] == 1
    assert standby["receiver"]["status"] == "streaming" and standby["recovery_min_apply_delay"] == "0"
    assert len(set(report["system_identifier"] for report in status.values())) == 1


@pytest.mark.full(reason="checked by make test-full only")
def test_a_delayed_standby_keeps_streaming_and_applies_only_after_the_delay(lab):
    """A new delay is reloaded, not restarted: a restarted standby replays the WAL it holds before it streams
    again, which under a delay of an hour takes an hour. Rows are written just before, so that pb3 holds WAL
    the delay would hold back."""
    try:
        with lab.writer("before-the-delay"):
            time.sleep(1)
        lab.wait_caught_up()
        applied, started = lab.rows("pb3"), lab.postmaster_start("pb3")

        run = lab.converge("site.yml", "--limit", "pb1,pb3", "-e", "standby_apply_delay=1h")
        assert lab.db("pb3").query("SHOW recovery_min_apply_delay") == "1h"
        changed = faultlab.changed_tasks(run, "pb3")
        assert "Reload the standby for its new settings" in changed, (changed, run.tail())
        assert lab.postmaster_start("pb3") == started
        lab.wait_streaming(timeout=30)
        with lab.writer("delayed"):
            time.sleep(1)
        target = lab.db("pb1").query("SELECT pg_current_wal_lsn()")
        lab.db("pb3").wait_for("SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '%s') >= 0" % target, "t", 60)
        time.sleep(2)
        assert lab.rows("pb3") == applied

        # A setting only a restart applies restarts it; the delay then holds the WAL pb3 received, so it
        # cannot stream, and the run says so instead of timing out on it.
        run = lab.converge("site.yml", "--limit", "pb1,pb3", "-e", "standby_apply_delay=1h",
                           "-e", '{"standby_extra_settings": {"max_wal_senders": 12}}')
        changed = faultlab.changed_tasks(run, "pb3")
        assert "Restart the standby for max_wal_senders" in changed, (changed, run.tail())
        said = " ".join(run.output.split())
        assert re.search(r"pb3 replays the WAL it already holds under its apply delay \(recovery_min_apply_delay "
                         r"1h, replayed up to [0-9A-F]+/[0-9A-F]+\) and streams from pb1 again only when", said), \
            run.tail()
        assert lab.rows("pb3") == applied
    finally:
        # A standby an hour behind would fail every later case of the suite, not only this one.
        lab.converge("site.yml", "--limit", "pb1,pb3")
    assert lab.db("pb3").query("SHOW recovery_min_apply_delay") == "0"
    assert lab.assert_healthy() > applied[0]
