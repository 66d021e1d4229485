"""Nothing destructive without proof, and nothing written to the primary unless asked.

- verify proves replication by WAL position alone unless verify_write_probe is
  set (the lab sets it), and quotes the probe table's name when it does write;
- pg_hba.conf gets one entry per address of a follower, IPv6 included;
- a standby's data directory holding another running cluster is replaced only
  with standby_force, after stopping that server, and a second forced run
  replaces nothing.
"""
import json
import pathlib
import re

import pytest

import faultlab
import labtools

PROBE_TABLE = "polardb_verify"


def table_exists(lab, name):
    return lab.db("pb1").query("SELECT count(*) FROM pg_class WHERE relname = '%s' AND relkind = 'r'"
                               % name.replace("'", "''")) == "1"


@pytest.mark.full(reason="checked by make test-full only")
def test_verify_writes_nothing_on_the_primary_unless_asked(lab, tmp_path):
    inventory = lab.inventory("no-probe")
    settings = pathlib.Path(inventory) / "group_vars" / "all.yml"
    settings.write_text(re.sub(r"(?m)^verify_write_probe:.*\n", "", settings.read_text()))
    lab.db("pb1").query("DROP TABLE IF EXISTS %s" % PROBE_TABLE)

    run = lab.converge("-i", inventory, "site.yml", "--tags", "verify")
    assert "Write a probe row on the primary" not in run.output, run.tail()
    assert "probe row arrived" not in run.output, run.tail()
    assert re.search(r"pb3: streaming from pb1 through slot pb3, .* caught up with the primary's", run.output), \
        run.tail()
    assert not table_exists(lab, PROBE_TABLE)

    # Asked to write, with a table name that needs quoting: exactly that table, one row per follower.
    odd = 'Probe "quoted"; DROP'
    asked = lab.converge("-i", inventory, "site.yml", "--tags", "verify",
                         "-e", json.dumps({"verify_write_probe": True, "verify_table": odd}))
    assert "pb3: streaming" in asked.output and "probe row arrived" in asked.output, asked.tail()
    assert table_exists(lab, odd)
    assert lab.db("pb1").query('SELECT count(DISTINCT follower) FROM "Probe ""quoted""; DROP"') == "2"
    lab.db("pb1").query('DROP TABLE "Probe ""quoted""; DROP"')


def hba_sources_of(lab, follower):
    return sorted(lab.sh("pb1", "grep 'polardb.cluster follower %s$' %s/pg_hba.conf | awk '{print $4}'"
                         % (follower, lab.primary_data)).split())


@pytest.mark.full(reason="checked by make test-full only")
def test_a_follower_with_several_addresses_gets_an_entry_for_each_ipv6_included(lab):
    own = labtools.container_ip("pb3")
    # Documentation addresses: they only land in pg_hba.conf, nothing connects from them.
    several = lab.inventory("pb3-several", host_vars={"pb3": {"polardb_address": [own, "192.0.2.30", "2001:db8::30"]}})
    run = lab.converge("-i", several, "site.yml", "--tags", "primary", "--limit", "pb1")
    assert run.changed["pb1"] > 0, run.tail()
    assert hba_sources_of(lab, "pb3") == sorted([own + "/32", "192.0.2.30/32", "2001:db8::30/128"])
    # The server loaded every line of it.
    assert lab.db("pb1").query("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") == "0"
    assert lab.db("pb1").query("SELECT count(*) FROM pg_hba_file_rules WHERE address = '2001:db8::30' "
                               "AND netmask = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' "
                               "AND auth_method = 'scram-sha-256'") == "1"
    again = lab.converge("-i", several, "site.yml", "--tags", "primary", "--limit", "pb1")
    assert again.changed["pb1"] == 0, again.tail()

    lab.converge()
    assert hba_sources_of(lab, "pb3") == [own + "/32"]
    lab.assert_healthy()


@pytest.mark.full(reason="checked by make test-full only")
def test_another_running_cluster_in_the_standby_data_dir_is_replaced_only_when_forced(lab):
    data, kept = lab.standby_data, lab.standby_data + ".kept"
    pg_ctl = "%s/pg_ctl" % lab.pg_bin
    lab.sh("pb3", "%s stop -m fast -w -D %s && mv %s %s" % (pg_ctl, data, data, kept), user="postgres")
    try:
        lab.sh("pb3", "%s/initdb -D %s >/dev/null && %s start -w -D %s -l %s.other.log >/dev/null"
               % (lab.pg_bin, data, pg_ctl, data, data), user="postgres")
        other = dict(sysid=lab.system_identifier("pb3"), started=lab.postmaster_start("pb3"),
                     files=lab.sh("pb3", "cd %s && find . -path ./pg_stat_tmp -prune -o -print | sort | md5sum"
                                  % data))
        assert other["sysid"] != lab.system_identifier("pb1")

        refused = lab.playbook(*lab.rerun)
        faultlab.assert_refused(refused, r"Refusing to back up: data_dir %s holds a cluster of another system "
                                         r"\(system identifier %s" % (data, other["sysid"]))
        assert lab.postmaster_start("pb3") == other["started"]
        assert lab.system_identifier("pb3") == other["sysid"]

        with lab.writer("forced-rebuild"):
            forced = lab.converge(*lab.rerun, "-e", "standby_force=true")
        stopped_then_built = faultlab.changed_tasks(forced, "pb3")
        assert stopped_then_built.index("Stop the standby before its data is replaced") < \
            stopped_then_built.index("Take the base backup of the primary"), forced.tail()
        assert lab.system_identifier("pb3") == lab.system_identifier("pb1")
        lab.assert_healthy()

        # Left set, force never replaces a good copy again.
        started = lab.postmaster_start("pb3")
        again = lab.converge(*lab.rerun, "-e", "standby_force=true")
        assert again.changed["pb3"] == 0 and again.changed["pb1"] == 0, again.tail()
        assert lab.postmaster_start("pb3") == started
    finally:
        lab.sh("pb3", "rm -rf %s %s.other.log" % (kept, data))
