"""Last case, as it leaves the replica pb2 behind a fork of pb1's history: a failover from a primary that
crashed with commits its standby never received. The receipt counts the WAL it lost, read on its disk; the
ledger finds exactly the rows only it had missing; brought back, it is copied aside whole, with those rows,
and rewound."""
import re
import time

import pytest

import faultlab
from lifecycle_steps import aside, kept_rows, pg_ctl, write

PROMOTE = ("playbooks/promote.yml", "--limit", "pb3")


@pytest.mark.full(reason="checked by make test-full only")
def test_a_failover_from_a_crashed_primary_counts_what_it_lost_and_the_former_primary_keeps_it(lab):
    # After tests/lifecycle/test_remove.py, pb3 is built again first.
    lab.converge("site.yml")
    lab.assert_healthy()
    write(lab, "before-the-crash")
    lab.wait_caught_up()
    pg_ctl(lab, "pb3", "stop", lab.standby_data, "-m", "fast")
    # its own tag, so that the case run again on a kept lab does not count the rows of the run before
    tag = "only-on-pb1-%d" % time.time()
    only_on_pb1 = write(lab, tag)
    lab.sh("pb1", "pkill -KILL -x postgres; while pgrep -x postgres >/dev/null; do sleep 0.2; done")
    pg_ctl(lab, "pb3", "start", lab.standby_data)

    # pb1's host says no server runs there: promoted without a flag, and the receipt counts pb1's WAL past
    # the new timeline's start. The ledger agrees: pb3 lacks every row only pb1 had.
    run = lab.converge(*PROMOTE)
    receipt = lab.receipt("pb3")
    assert receipt["bytes_lost"] > 0 and receipt["old_primary_end_lsn"] is not None, receipt
    assert re.search(r"Receipt: promote of pb3 \(from pb1\): writable after [0-9.]+ s; write gap [0-9.]+ s from the "
                     r"last commit pb3 replayed from pb1; %d bytes lost" % receipt["bytes_lost"], run.output), run.tail()
    assert only_on_pb1.missing(lab.db("pb3")) == sorted(only_on_pb1.acknowledged())

    # pb1 comes back as the primary: it diverged (and crashed: its pid file names no process), so it is copied
    # aside whole, with what it lost, and rewound.
    run = lab.converge("playbooks/switchover.yml", "-e", "switchover_to=pb1",
                       "-e", "switchover_reseed_former_primary=true")
    kept = aside(lab, "pb1", lab.primary_data + ".old-*")
    assert len(kept) == 1 and "its old data is kept in %s" % kept[0] in run.output, run.tail()
    # pg_rewind first recovered the crashed directory on its own, then rewound it.
    rejoined = lab.receipt("pb1")["rejoined"]["pb1"]
    assert rejoined["method"] == "rewind" and rejoined["kept_in"] == kept[0], rejoined
    assert kept_rows(lab, "pb1", kept[0], tag) >= only_on_pb1.acknowledged()
    lab.assert_healthy()
    assert only_on_pb1.missing(lab.db("pb1")) == sorted(only_on_pb1.acknowledged())
