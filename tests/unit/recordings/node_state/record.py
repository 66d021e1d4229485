#!/usr/bin/env python3
"""Record what node_state's psql call prints on a real lab, for the unit-test fake.

Run from the project on a lab that site.yml converged, named by its prefix:

    POLARDB_LAB_PREFIX=rec- .venv/bin/python tests/unit/recordings/node_state/record.py
    POLARDB_ENGINE=polardb POLARDB_LAB_PREFIX=rec- .venv/bin/python tests/unit/recordings/node_state/record.py

The module's own argument list (server_argv) runs in each container as
postgres; its stdout, stderr and exit code go to NAME.json beside this file.
On the PostgreSQL engine pb3's standby is stopped for a moment and started again.
"""
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
PROJECT = HERE.parents[3]
sys.path.insert(0, str(PROJECT / ".collections"))

from ansible_collections.polardb.cluster.plugins.modules.node_state import server_argv  # noqa: E402

ENGINE = os.environ.get("POLARDB_ENGINE") or "postgresql"
PREFIX = os.environ.get("POLARDB_LAB_PREFIX", "")
BIN = "/home/postgres/tmp_polardb_pg_15_base/bin" if ENGINE == "polardb" else "/usr/lib/postgresql/15/bin"
CONNECTION = dict(psql=BIN + "/psql", socket_dir="/tmp" if ENGINE == "polardb" else "/var/run/postgresql",
                  port=5432, login_user="postgres", db="postgres")
STANDBY_DATA = "/home/postgres/standby" if ENGINE == "polardb" else "/var/lib/polardb/nvme2n1/standby"


def in_container(host, argv):
    return subprocess.run(["docker", "exec", "-u", "postgres", PREFIX + host] + argv, capture_output=True, text=True)


def record(name, host, situation):
    argv = server_argv(CONNECTION)
    run = in_container(host, argv)
    (HERE / (name + ".json")).write_text(json.dumps(
        dict(situation=situation, engine=ENGINE, argv=argv, stdout=run.stdout, stderr=run.stderr, exit=run.returncode),
        indent=2, sort_keys=True) + "\n")
    print(name, run.returncode)


if ENGINE == "polardb":
    record("polardb_primary", "pb1", "PolarDB primary pb1 on the shared PFS disk, pb2 and pb3 streaming")
    record("polardb_replica", "pb2", "PolarDB read-only replica pb2 on pb1's PFS disk")
    record("polardb_standby", "pb3", "PolarDB standby pb3 on its own PFS disk, streaming from pb1")
else:
    record("primary", "pb1", "PostgreSQL primary pb1, pb2 and pb3 streaming through their slots")
    record("replica", "pb2", "PostgreSQL replica pb2 streaming from pb1")
    record("standby", "pb3", "PostgreSQL standby pb3 on its own disk, streaming from pb1 over TLS")
    in_container("pb3", [BIN + "/pg_ctl", "stop", "-m", "fast", "-D", STANDBY_DATA])
    try:
        record("standby_stopped", "pb3", "pb3's standby stopped: psql cannot connect")
    finally:
        in_container("pb3", [BIN + "/pg_ctl", "start", "-w", "-D", STANDBY_DATA, "-l", STANDBY_DATA + ".log"])
