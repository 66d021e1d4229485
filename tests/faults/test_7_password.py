"""A replication password holding ':' and '\\', which a password file (.pgpass) must escape, survives a restart
of the standby: the standby logs in again from its password file, and the next run works."""
import json

PASSFILE = "/var/lib/postgresql/.pgpass.pb3"
# Unescaped, libpq would read 'repl' (the first ':' ends the field) and drop each lone backslash.
PASSWORD = "repl:ic\\ation:\\secret\\\\x"
ESCAPED = "repl\\:ic\\\\ation\\:\\\\secret\\\\\\\\x"


def with_password(password):
    return ("-e", json.dumps({"polardb_replication_password": password}))


def test_a_password_with_colons_and_backslashes_survives_a_standby_restart(lab):
    try:
        run = lab.converge(*lab.rerun, *with_password(PASSWORD))
        assert run.changed["pb1"] > 0 and run.changed["pb3"] > 0, run.tail()
        assert PASSWORD not in run.output and ESCAPED not in run.output
        assert lab.sh("pb3", "cat " + PASSFILE) == "*:5432:*:replicator:" + ESCAPED

        # The running standby kept the connection it made with the old password; a new one
        # reads the file.
        started = lab.postmaster_start("pb3")
        lab.sh("pb3", "%s/pg_ctl restart -D %s -m fast -w -l %s.log" % (lab.pg_bin, lab.standby_data, lab.standby_data),
               user="postgres")
        assert lab.postmaster_start("pb3") != started
        with lab.writer("password"):
            lab.assert_healthy()

        # The next run asks the primary as the standby does, and finds nothing to change.
        again = lab.converge(*lab.rerun, *with_password(PASSWORD))
        assert again.changed.get("pb3", 0) == 0, again.tail()
    finally:
        lab.converge(*lab.rerun)
    lab.sh("pb3", "%s/pg_ctl restart -D %s -m fast -w -l %s.log" % (lab.pg_bin, lab.standby_data, lab.standby_data),
           user="postgres")
    lab.assert_healthy()
    assert lab.sh("pb3", "cat " + PASSFILE) == "*:5432:*:replicator:" + lab.password
