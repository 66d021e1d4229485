#!/usr/bin/env python3
"""Record what replication_info's query returns on a real lab, for the unit-test fake.

Run from the project on a lab that site.yml converged, named by its prefix:

    POLARDB_LAB_PREFIX=rec- .venv/bin/python tests/unit/recordings/replication_info/record.py
    POLARDB_ENGINE=polardb POLARDB_LAB_PREFIX=rec- .venv/bin/python tests/unit/recordings/replication_info/record.py
    POLARDB_LAB_PREFIX=rec- .venv/bin/python tests/unit/recordings/replication_info/record.py standby_stopped

Each situation is set up on the lab, the module's STATUS_QUERY runs inside the
container through psycopg with the module's connection keywords, and the rows
(or the connection's error) go to NAME.json beside this file, as psycopg
returned them: json.dumps without a fallback, so a value that is not JSON
already fails the recording. The lab is put back after each situation
(servers started again, extra slots and settings removed). On the PostgreSQL
engine it stops and starts pb1 and pb3 and changes pb1's
max_slot_wal_keep_size for a while: never point it at a lab that matters.
"""
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
PROJECT = HERE.parents[3]
sys.path.insert(0, str(PROJECT / "tests"))
sys.path.insert(0, str(PROJECT / ".collections"))

import labtools  # noqa: E402
from ansible_collections.polardb.cluster.plugins.modules.replication_info import STATUS_QUERY  # noqa: E402

ENGINE = os.environ.get("POLARDB_ENGINE") or "postgresql"
SOCKET_DIR = "/tmp" if ENGINE == "polardb" else "/var/run/postgresql"
PG_CTL = ("/home/postgres/tmp_polardb_pg_15_base/bin/pg_ctl" if ENGINE == "polardb"
          else "/usr/lib/postgresql/15/bin/pg_ctl")
DATABASE = labtools.PolarDatabase if ENGINE == "polardb" else labtools.Database
PRIMARY_DATA, PRIMARY_LOG = "/var/lib/postgresql/primary", "/var/lib/postgresql/primary.log"
STANDBY_DATA, STANDBY_LOG = "/var/lib/polardb/nvme2n1/standby", "/var/lib/polardb/nvme2n1/standby.log"

# Runs in the container as postgres: the module's connect() keywords, its query on stdin.
IN_CONTAINER = r"""
import json, sys
import psycopg
from psycopg.rows import dict_row
try:
    conn = psycopg.connect(autocommit=True, row_factory=dict_row, host=sys.argv[1], port=5432,
                           user='postgres', dbname='postgres', connect_timeout=10)
except psycopg.Error as e:
    print(json.dumps({'connect_error': {'class': type(e).__name__, 'message': str(e)}}))
    sys.exit(0)
with conn.cursor() as cursor:
    if len(sys.argv) > 2:   # the module's login role, when it is not postgres
        cursor.execute('SET ROLE ' + sys.argv[2])
    try:
        cursor.execute(sys.stdin.read())
    except psycopg.Error as e:
        print(json.dumps({'query_error': {'sqlstate': e.sqlstate, 'message': str(e)}}))
        sys.exit(0)
    rows = cursor.fetchall()
conn.close()
print(json.dumps({'rows': rows, 'psycopg': psycopg.__version__}))
"""


def query_on(host, role=None):
    run = subprocess.run(["docker", "exec", "-i", "-u", "postgres", labtools.PREFIX + host, "python3", "-c",
                          IN_CONTAINER, SOCKET_DIR] + ([role] if role else []),
                         input=STATUS_QUERY, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, "%s: %s" % (host, run.stderr)
    return json.loads(run.stdout)


def record(name, host, situation, expect=lambda answer: True, role=None):
    """Write NAME.json from HOST's answer; ask again while expect(answer) is false (a moment in passing)."""
    answer = query_on(host, role)
    for _ in range(20):
        if expect(answer):
            break
        time.sleep(0.5)
        answer = query_on(host, role)
    assert expect(answer), "%s: the situation did not hold: %s" % (name, answer)
    document = dict(situation=situation, host=host, engine=ENGINE,
                    recorded=datetime.date.today().isoformat(), query=STATUS_QUERY)
    document.update(answer)
    (HERE / (name + ".json")).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print("recorded %s.json (%s)" % (name, situation))


def psql(host, sql):
    return DATABASE(host).query(sql)


def pg_ctl(host, action, data_dir, log=None):
    args = [PG_CTL, action, "-w", "-D", data_dir] + (["-m", "fast"] if action == "stop" else ["-l", log])
    labtools.docker("exec", "-u", "postgres", labtools.PREFIX + host, *args)


def wait_until(what, condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting: %s" % what
        time.sleep(0.5)


def streaming_slots():
    return psql("pb1", "SELECT string_agg(s.slot_name, ',' ORDER BY s.slot_name) FROM pg_replication_slots s "
                       "JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE r.state = 'streaming'")


def wait_for_followers():
    wait_until("pb2 and pb3 stream from pb1", lambda: streaming_slots() == "pb2,pb3")
    if ENGINE == "polardb":   # a PolarDB replica reads pages from the shared disk: its replay_lsn lags on purpose
        return
    wait_until("pb3 replayed pb1's WAL", lambda: psql("pb1", "SELECT bool_and(replay_lsn = pg_current_wal_lsn()) "
                                                             "FROM pg_stat_replication") == "t")


def primary_with_an_idle_slot_and_a_slotless_walsender():
    psql("pb1", "SELECT pg_create_physical_replication_slot('idle', true)")
    # pg_receivewal without a slot: a walsender no slot accounts for
    labtools.docker("exec", "-d", "-u", "postgres", labtools.PREFIX + "pb1", "sh", "-c",
                    "mkdir -p /tmp/rec-wal && echo $$ > /tmp/rec-wal.pid && exec %s/pg_receivewal -n -D /tmp/rec-wal -h %s"
                    % (os.path.dirname(PG_CTL), SOCKET_DIR))
    try:
        wait_until("pg_receivewal streams", lambda: psql(
            "pb1", "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_receivewal' "
                   "AND state = 'streaming'") == "1")
        record("primary", "pb1", "pb1 primary: pb2 and pb3 streaming through their slots, slot idle reserved "
                                 "and unused, pg_receivewal streaming without a slot over the socket")
    finally:
        labtools.docker("exec", "-u", "postgres", labtools.PREFIX + "pb1", "sh", "-c",
                        "kill $(cat /tmp/rec-wal.pid); rm -rf /tmp/rec-wal /tmp/rec-wal.pid", check=False)
        psql("pb1", "SELECT pg_drop_replication_slot('idle')")


def followers_streaming():
    record("standby", "pb3", "pb3 standby streaming from pb1 through slot pb3")
    record("follower_pb2", "pb2", "pb2 follower of pb1 (PostgreSQL: a streaming copy with standby.signal)")


def follower_with_replica_signal():
    # PostgreSQL ignores the file; the query only looks for it, as on a PolarDB replica
    labtools.docker("exec", "-u", "postgres", labtools.PREFIX + "pb2", "touch",
                    "/var/lib/postgresql/replica/replica.signal")
    try:
        record("replica_signal", "pb2", "pb2 (PostgreSQL) in recovery with replica.signal in its data directory")
    finally:
        labtools.docker("exec", "-u", "postgres", labtools.PREFIX + "pb2", "rm",
                        "/var/lib/postgresql/replica/replica.signal")


def standby_stopped():
    pg_ctl("pb3", "stop", STANDBY_DATA)
    try:
        wait_until("pb1 sees slot pb3 inactive", lambda: psql(
            "pb1", "SELECT active FROM pg_replication_slots WHERE slot_name = 'pb3'") == "f")
        record("primary_standby_stopped", "pb1", "pb1 primary while pb3's server is stopped (pg_ctl stop -m fast)")
        record("standby_connect_refused", "pb3", "pb3's server stopped: connecting over the socket fails")
    finally:
        pg_ctl("pb3", "start", STANDBY_DATA, STANDBY_LOG)
        wait_for_followers()


def primary_stopped():
    pg_ctl("pb1", "stop", PRIMARY_DATA)
    try:
        record("standby_primary_stopped", "pb3", "pb3 standby while pb1's server is stopped: no WAL receiver",
               expect=lambda answer: answer["rows"][0]["receiver"]["status"] is None)
    finally:
        pg_ctl("pb1", "start", PRIMARY_DATA, PRIMARY_LOG)
        wait_for_followers()


def slot_beyond_max_slot_wal_keep_size():
    psql("pb1", "ALTER SYSTEM SET max_slot_wal_keep_size = '32MB'")
    psql("pb1", "SELECT pg_reload_conf()")
    psql("pb1", "SELECT pg_create_physical_replication_slot('behind', true)")
    try:
        for _ in range(4):   # four segments of WAL past the slot, which keeps two
            psql("pb1", "SELECT pg_logical_emit_message(false, 'record', 'x')")
            psql("pb1", "SELECT pg_switch_wal()")
        wait_for_followers()
        assert psql("pb1", "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'behind'") == "unreserved"
        record("primary_slot_unreserved", "pb1", "pb1 primary, max_slot_wal_keep_size 32MB, slot behind reserved "
                                                 "four WAL segments ago and unused")
        psql("pb1", "CHECKPOINT")
        assert psql("pb1", "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'behind'") == "lost"
        record("primary_slot_lost", "pb1", "the same after a CHECKPOINT removed the slot's WAL")
    finally:
        psql("pb1", "SELECT pg_drop_replication_slot('behind')")
        psql("pb1", "ALTER SYSTEM RESET max_slot_wal_keep_size")
        psql("pb1", "SELECT pg_reload_conf()")


def login_role_without_pg_stat_file():
    psql("pb1", "CREATE ROLE rec_monitor NOLOGIN IN ROLE pg_monitor")
    try:
        record("primary_monitor_role", "pb1", "pb1 primary, queried as a role with pg_monitor only",
               role="rec_monitor")
    finally:
        psql("pb1", "DROP ROLE rec_monitor")


def polardb_cluster():
    record("polardb_primary", "pb1", "PolarDB pb1 primary on the shared PFS disk, pb2 and pb3 streaming")
    record("polardb_replica", "pb2", "PolarDB pb2 read-only replica on pb1's shared disk (replica.signal)")
    record("polardb_standby", "pb3", "PolarDB pb3 standby on its own PFS disk, streaming through slot pb3")


SITUATIONS = {
    "postgresql": [primary_with_an_idle_slot_and_a_slotless_walsender, followers_streaming,
                   follower_with_replica_signal, standby_stopped, primary_stopped, slot_beyond_max_slot_wal_keep_size,
                   login_role_without_pg_stat_file],
    "polardb": [polardb_cluster],
}


def main():
    if not labtools.PREFIX:
        sys.exit("Set POLARDB_LAB_PREFIX to the prefix of a lab of your own: this script stops its servers.")
    chosen = sys.argv[1:]   # names of situations; all of the engine's by default
    wait_for_followers()
    for situation in SITUATIONS[ENGINE]:
        if not chosen or situation.__name__ in chosen:
            situation()


if __name__ == "__main__":
    main()
