"""Steps of the lifecycle cases on the PostgreSQL-engine lab: pg_ctl as the database user, a ledger
client's writes, and the rows a copy the tool set aside holds."""
import time

import faultlab

PG_BIN = "/usr/lib/postgresql/15/bin"


def pg_ctl(lab, host, action, data_dir, *args):
    log = "%s.log" % data_dir
    extra = ["-l", log] if action == "start" else []
    return lab.sh(host, " ".join([PG_BIN + "/pg_ctl", action, "-w", *extra, *args, "-D", data_dir]), user="postgres")


def write(lab, tag, host="pb1", seconds=1):
    with lab.ledger(tag, host) as ledger:
        time.sleep(seconds)
    assert ledger.acknowledged(), "no commit of %s was acknowledged on %s" % (tag, host)
    return ledger


def kept_rows(lab, host, folder, tag):
    """The ledger ids tag in a copy the tool set aside, read by starting it on its own port for a moment."""
    pg_ctl(lab, host, "start", folder, "-o", "'-p 5499 -c listen_addresses= -c archive_mode=off'")
    try:
        return set(lab.sh(host, "%s/psql -X -At -p 5499 -d postgres -c \"SELECT payload FROM %s WHERE tag = '%s'\""
                          % (PG_BIN, faultlab.TABLE, tag), user="postgres").split())
    finally:
        pg_ctl(lab, host, "stop", folder, "-m", "fast")


def aside(lab, host, pattern):
    return lab.sh(host, "ls -d %s 2>/dev/null || true" % pattern).split()
