"""playbooks/status.yml on a lab converged by site.yml: the JSON document, the lines, a stopped standby.

The JSON document is what the task "Replication status as JSON" printed,
parsed, not grepped. The standby is stopped with pg_ctl and started again
with it, whatever the assertions say.
"""
import pytest

from labtools import Database, status_document

PG_BIN = "/usr/lib/postgresql/15/bin"
STANDBY_DATA = "/var/lib/polardb/nvme2n1/standby"
STANDBY_LOG = "/var/lib/polardb/nvme2n1/standby.log"
SLOT_ACTIVE = "SELECT active FROM pg_replication_slots WHERE slot_name = 'pb3'"
PB3_STREAMING = ("SELECT count(*) FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid "
                 "WHERE s.slot_name = 'pb3' AND r.state = 'streaming'")


@pytest.fixture(scope="module")
def converged(lab):
    lab.playbook("site.yml")
    return lab


def followers_by_name(report):
    return dict((follower["name"], follower) for follower in report["followers"])


def test_json_status_of_the_converged_lab(converged):
    _, output, changed = converged.playbook("playbooks/status.yml", "-e", "status_format=json")
    status = status_document(output)

    assert sorted(status) == ["pb1", "pb2", "pb3"]
    assert changed == {"pb1": 0, "pb2": 0, "pb3": 0}
    primary = status["pb1"]
    assert primary["role"] == "primary" and primary["in_recovery"] is False and primary["timeline"] >= 1
    followers = followers_by_name(primary)
    assert sorted(followers) == ["pb2", "pb3"], followers
    for name in ("pb2", "pb3"):
        follower = followers[name]
        assert follower["state"] == "streaming", follower
        assert follower["slot"]["name"] == name and follower["slot"]["active"] is True
        assert follower["slot"]["wal_status"] == "reserved"
        assert type(follower["lag_bytes"]) is int and follower["lag_bytes"] >= 0
    assert status["pb3"]["role"] == "standby" and status["pb3"]["in_recovery"] is True
    assert status["pb3"]["receiver"]["status"] == "streaming" and status["pb3"]["primary_slot_name"] == "pb3"
    assert status["pb3"]["followers"] is None
    assert len(set(report["system_identifier"] for report in status.values())) == 1
    assert "not streaming" not in output and "pb1: primary, timeline" not in output


def test_one_line_per_host_by_default(converged):
    _, output, _ = converged.playbook("playbooks/status.yml")

    assert "pb1: primary, timeline 1, WAL at " in output and "2 follower(s) streaming (pb2, pb3)" in output
    assert "pb3: standby, timeline 1, streaming from pb1 through slot pb3, replayed " in output
    assert " bytes behind the primary's " in output and '"pb1": {' not in output


def test_an_unknown_format_is_refused_before_any_server_is_asked(converged):
    returncode, output, _ = converged.playbook("playbooks/status.yml", "-e", "status_format=yaml", check=False)

    assert returncode != 0
    assert 'status_format must be line (one line per host, the default) or json (one JSON document), not ' \
           '\\"yaml\\"' in output
    assert "Read the replication state" not in output


def test_a_stopped_standby_is_named_by_the_primary_and_fails_its_host(converged):
    pb3 = converged.prefix + "pb3"
    converged.docker("exec", "-u", "postgres", pb3, PG_BIN + "/pg_ctl", "stop", "-m", "fast", "-w", "-D", STANDBY_DATA)
    try:
        Database("pb1").wait_for(SLOT_ACTIVE, "f")
        returncode, output, _ = converged.playbook("playbooks/status.yml", "-e", "status_format=json", check=False)
        status = status_document(output)
    finally:
        converged.docker("exec", "-u", "postgres", pb3, PG_BIN + "/pg_ctl", "start", "-w", "-D", STANDBY_DATA,
                         "-l", STANDBY_LOG)
        Database("pb1").wait_for(PB3_STREAMING, "1")

    assert "[WARNING]: Slot pb3 of follower pb3 is not streaming: no walsender uses the slot" in output
    assert "Slot pb2 of follower pb2" not in output
    pb3_seen = followers_by_name(status["pb1"])["pb3"]
    assert pb3_seen["state"] is None and pb3_seen["slot"]["active"] is False
    assert followers_by_name(status["pb1"])["pb2"]["state"] == "streaming"
    assert "Could not connect to PostgreSQL" in status["pb3"]["error"] and sorted(status["pb3"]) == ["error"]
    assert status["pb2"]["role"] == "standby"
    assert returncode != 0
    assert "pb3: no replication status, its server did not answer" in output
