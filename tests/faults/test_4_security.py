"""The replication password stays secret; pg_hba.conf gains only SCRAM-over-TLS entries for the followers'
addresses; replication runs over TLS with verified certificates, or with client certificates (cert)."""
import re

import pytest

import labtools

SERVER_LOGS = {"pb1": ["/var/lib/postgresql/primary.log"], "pb2": ["/var/lib/postgresql/replica.log"],
               "pb3": ["/var/lib/polardb/nvme2n1/standby.log"]}
LOOPBACK = {"127.0.0.1/32", "::1/128"}


@pytest.fixture(scope="module")
def verbose_run(lab):
    """A -vvv run that has to handle the password: it is reset on pb1 and pb3's password file is gone."""
    lab.db("pb1").query("ALTER ROLE replicator PASSWORD 'something-else'")
    lab.sh("pb3", "rm /var/lib/postgresql/.pgpass.pb3")
    run = lab.converge(*lab.rerun, "-vvv")
    assert run.changed["pb1"] > 0 and run.changed["pb3"] > 0, run.tail()
    return run


@pytest.mark.full(reason="checked by make test-full only")
def test_the_password_never_appears_in_any_playbook_output(lab, verbose_run):
    assert "Create the replication role" in verbose_run.output and "ESTABLISH DOCKER CONNECTION" in verbose_run.output
    leaks = [" ".join(run.args) for run in lab.runs if lab.password in run.output]
    # lab.runs: every playbook run of the session so far, the failed ones included.
    assert verbose_run in lab.runs and leaks == [], "the replication password is in the output of: %s" % leaks


def test_the_password_is_in_no_server_log_or_settings_file(lab, verbose_run):
    files = dict(SERVER_LOGS)
    files["pb3"] = files["pb3"] + ["%s/%s" % (lab.standby_data, name) for name in
                                   ("postgresql.conf", "postgresql.auto.conf", "polardb_standby.conf")]
    files["pb1"] = files["pb1"] + ["%s/%s" % (lab.primary_data, name) for name in
                                   ("postgresql.conf", "postgresql.auto.conf", "polardb_primary.conf")]
    for host, paths in files.items():
        found = lab.sh(host, "grep -l -F -e '%s' %s || true" % (lab.password, " ".join(paths)))
        assert found == "", "%s: the password is in %s" % (host, found)
        assert lab.sh(host, "cat %s | wc -c" % " ".join(paths)) != "0"


def test_the_password_file_is_private_and_the_role_uses_scram(lab, verbose_run):
    assert lab.sh("pb3", "stat -c '%U %G %a' /var/lib/postgresql/.pgpass.pb3") == "postgres postgres 600"
    assert lab.sh("pb3", "cut -d: -f4 /var/lib/postgresql/.pgpass.pb3") == "replicator"
    assert lab.db("pb1").query("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AND rolreplication AND NOT rolsuper "
                               "FROM pg_authid WHERE rolname = 'replicator'") == "t"
    # The password file really is what the standby authenticates with.
    lab.assert_healthy()


def test_pg_hba_allows_only_scram_from_each_followers_own_address(lab, verbose_run):
    followers = [name for name in ("pb2", "pb3", "pb4") if lab.ip(name)]
    lines = [line.split("#", 1) for line in lab.sh("pb1", "cat %s/pg_hba.conf" % lab.primary_data).splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    entries = [(fields.split(), comment[0].strip() if comment else "") for fields, *comment in lines]
    local = [fields for fields, _ in entries if fields[0] == "local"]
    host = [(fields, comment) for fields, comment in entries if fields[0] != "local"]
    # initdb's lines: peer on the socket, SCRAM on loopback.
    assert local and all(fields[-1] == "peer" for fields in local), local
    loopback = [fields for fields, comment in host if fields[3] in LOOPBACK]
    assert loopback and all(fields[-1] == "scram-sha-256" for fields in loopback), loopback
    # Everything else: one entry per follower, its /32, replication only, over TLS, SCRAM.
    added = sorted((fields, comment) for fields, comment in host if fields[3] not in LOOPBACK)
    expected = sorted((["hostssl", "replication", "replicator", labtools.container_ip(name) + "/32", "scram-sha-256"],
                       "polardb.cluster follower " + name) for name in followers)
    assert added == expected
    text = lab.sh("pb1", "grep -v '^#' %s/pg_hba.conf" % lab.primary_data)
    assert not re.search(r"\btrust\b|0\.0\.0\.0/0|::/0|\bsamenet\b|\ball\s+all\s+0", text), text


@pytest.mark.full(reason="checked by make test-full only")
def test_a_follower_whose_address_changed_keeps_only_its_new_entry(lab):
    def entries_of_pb3():
        return lab.sh("pb1", "grep 'polardb.cluster follower pb3$' %s/pg_hba.conf | awk '{print $4}'"
                      % lab.primary_data).split()

    assert entries_of_pb3() == [labtools.container_ip("pb3") + "/32"]
    # pb3 now at another address, as after a restart that gave it another IP (a
    # documentation address: it only lands in pg_hba.conf, nothing connects to it).
    moved = lab.inventory("pb3-moved", host_vars={"pb3": {"polardb_address": "192.0.2.10"}})
    run = lab.playbook("-i", moved, "site.yml", "--tags", "primary", "--limit", "pb1")
    assert run.returncode == 0, run.tail()
    assert entries_of_pb3() == ["192.0.2.10/32"]
    lab.converge()
    assert entries_of_pb3() == [labtools.container_ip("pb3") + "/32"]
    lab.assert_healthy()


# A replication connection from pb3, as its walreceiver makes one, with these libpq keywords.
def replication_login(lab, conninfo, password=True):
    command = ("psql -w -AtX -c IDENTIFY_SYSTEM 'user=replicator dbname=replication replication=true "
               "connect_timeout=10 %s' 2>&1; echo rc=$?" % conninfo)
    env = "PGPASSWORD='%s' " % lab.password if password else ""
    return lab.sh("pb3", env + command, user="postgres")


TLS = "sslrootcert=/var/lib/postgresql/tls/root.crt"


def walsenders(lab):
    return lab.db("pb1").query(
        "SELECT string_agg(r.application_name || ':' || coalesce(t.ssl::text, 'none') || ':' || coalesce(t.client_dn, ''),"
        " ',' ORDER BY r.application_name) FROM pg_stat_replication r LEFT JOIN pg_stat_ssl t USING (pid)")


def test_every_follower_streams_over_tls(lab):
    lab.assert_healthy()
    senders = walsenders(lab).split(",")
    assert "pb3:true:/CN=replicator" in senders and all(":true:" in sender for sender in senders), senders
    assert lab.sh("pb1", "stat -c '%U %a' /var/lib/postgresql/tls/node.key") == "postgres 600"


def test_a_follower_without_tls_is_refused(lab):
    plain = replication_login(lab, "host=pb1 sslmode=disable")
    assert 'no pg_hba.conf entry for replication connection from host "%s", user "replicator", no encryption' \
        % lab.ip("pb3") in plain and plain.endswith("rc=2"), plain
    # The same login over TLS is let in: only the missing TLS was refused.
    tls = replication_login(lab, "host=pb1 sslmode=verify-full " + TLS)
    assert tls.endswith("rc=0") and "|" in tls, tls


def test_a_server_whose_certificate_does_not_name_the_address_is_refused(lab):
    # pb1's certificate names pb1, not its IP address: verify-full refuses it, as it
    # would refuse a server in the middle holding another certificate of the CA.
    answer = replication_login(lab, "host=%s sslmode=verify-full %s" % (lab.ip("pb1"), TLS))
    assert re.search(r'server certificate for "pb1" (\(and \d+ other names?\) )?does not match host name "%s"'
                     % re.escape(lab.ip("pb1")), answer), answer
    assert answer.endswith("rc=2"), answer


@pytest.mark.full(reason="checked by make test-full only")
def test_followers_log_in_with_their_certificates_with_method_cert(lab):
    def hba_methods():
        return lab.sh("pb1", "grep -E 'polardb.cluster follower (pb2|pb3)$' %s/pg_hba.conf | awk '{print $1, $5}' "
                      "| sort -u" % lab.primary_data)

    try:
        lab.converge("site.yml", "-e", "primary_hba_method=cert")
        assert hba_methods() == "hostssl cert"
        # pb3's walreceiver logs in again, now with its certificate.
        lab.db("pb1").query("SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'pb3'")
        lab.assert_healthy()
        assert "pb3:true:/CN=replicator" in walsenders(lab)
        # Without a certificate the password is no longer enough; with it, no password is needed.
        no_cert = replication_login(lab, "host=pb1 sslmode=verify-full sslcert=/nonexistent sslkey=/nonexistent " + TLS)
        assert 'certificate authentication failed for user "replicator"' in no_cert \
            or "connection requires a valid client certificate" in no_cert, no_cert
        assert no_cert.endswith("rc=2"), no_cert
        with_cert = replication_login(lab, "host=pb1 sslmode=verify-full sslcert=/var/lib/postgresql/tls/node.crt "
                                      "sslkey=/var/lib/postgresql/tls/node.key " + TLS, password=False)
        assert with_cert.endswith("rc=0"), with_cert
    finally:
        lab.converge("site.yml")
    assert hba_methods() == "hostssl scram-sha-256"
    lab.assert_healthy()
