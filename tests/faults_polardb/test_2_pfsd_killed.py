"""pfsd killed under the running standby while pb1 writes: a run starts pfsd again and the standby resumes.

What a dead pfsd does to the database on its disk (measured here, and in the
reference recordings): nothing fails. The postmaster lives on, `pg_ctl status`
calls it running, and everything that needs PFS (replay, a new connection)
waits. A new pfsd on the same disk lets those waiting calls finish: the same
postmaster goes on replaying and serving, with every row. Meanwhile the
standby role refuses to judge the standby's data (PolarDB's pg_controldata
cannot read it without pfsd), even with standby_force.
"""
import time

import faultlab


def test_a_killed_pfsd_is_started_again_and_the_standby_resumes_with_every_row(lab):
    started = lab.postmaster_start("pb3")
    identity = lab.backup_identity()
    pfsd = lab.pfsd_pid()
    assert pfsd
    postmaster = lab.sh("pb3", "head -1 %s/postmaster.pid" % lab.standby_data)
    with lab.writer("pfsd-killed") as writer:
        time.sleep(1)
        lab.sh("pb3", "kill -KILL %s; while kill -0 %s 2>/dev/null; do sleep 0.2; done" % (pfsd, pfsd))
        assert lab.pfsd_pid() == ""
        # The database neither stops nor fails: its postmaster runs, and pg_ctl (which the
        # standby role asks) says so ...
        assert lab.sh("pb3", "kill -0 %s && echo alive" % postmaster) == "alive"
        assert lab.pg_ctl_status() == 0
        # ... but a new connection, which must read the catalog from PFS, gets no answer at all.
        waited = lab.sh("pb3", "timeout 15 %s/psql -h /tmp -AtX -c 'SELECT 1' >/dev/null 2>&1; echo $?" % lab.bin,
                        user="postgres")
        assert waited == "124", "psql on pb3 with pfsd dead ended with %s instead of hanging" % waited
        # The standby's data cannot be judged without pfsd: a run of the standby role alone
        # (even forced, as a message reading "another system" would advise) refuses and touches nothing.
        alone = lab.playbook(*lab.rerun, "--tags", "standby", "-e", "standby_force=true")
        faultlab.assert_refused(alone, r"pfsd does not serve %s on pb3" % lab.disk)
        assert lab.sh("pb3", "head -1 %s/postmaster.pid" % lab.standby_data) == postmaster
        rows_while_down = writer.rows()
        run = lab.converge()
    changed = faultlab.changed_tasks(run, "pb3")
    assert "Start pfsd for the disk" in changed, (changed, run.tail())
    assert "Take the base backup of the primary" not in changed, run.tail()
    new_pfsd = lab.pfsd_pid()
    assert new_pfsd not in ("", pfsd)
    # The same postmaster serves again, in recovery, on the same data, and every row arrives.
    assert lab.sh("pb3", "head -1 %s/postmaster.pid" % lab.standby_data) == postmaster
    assert lab.postmaster_start("pb3") == started
    assert lab.backup_identity() == identity
    assert writer.rows() > rows_while_down > 20
    lab.assert_healthy()
