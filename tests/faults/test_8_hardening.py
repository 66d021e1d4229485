"""No server of the cluster trusts anyone: initdb's lines are peer on the socket and SCRAM on localhost,
on the primary and on the followers that copied its pg_hba.conf; a primary made before keeps no trust line."""
import faultlab


def test_no_server_lets_anyone_in_without_a_password(lab):
    faultlab.assert_hardened(lab)


def test_a_primary_bootstrapped_with_trust_lines_gets_peer_and_scram(lab):
    hba = lab.primary_data + "/pg_hba.conf"
    hardened = lab.sh("pb1", "md5sum < " + hba)
    # initdb's lines as an initdb without --auth-local/--auth-host wrote them
    lab.sh("pb1", r"sed -i -E -e 's/^(local\s.*\s)peer$/\1trust/' "
                  r"-e 's#^(host\s+(all|replication)\s+all\s+(127\.0\.0\.1/32|::1/128)\s+)scram-sha-256$#\1trust#' "
                  + hba)
    lab.sh("pb1", "%s/pg_ctl reload -D %s" % (lab.pg_bin, lab.primary_data), user="postgres")
    lab.db("pb1").wait_for("SELECT count(*) > 0 FROM pg_hba_file_rules WHERE auth_method = 'trust'", "t", 10)
    assert "rc=0" in faultlab.passwordless_localhost_login(lab, "pb1")

    run = lab.converge("site.yml", "--tags", "primary", "--limit", "pb1")
    assert "Replace initdb's trust lines with peer and scram-sha-256" in faultlab.changed_tasks(run, "pb1"), run.tail()
    assert lab.sh("pb1", "md5sum < " + hba) == hardened, lab.sh("pb1", "cat " + hba)
    lab.db("pb1").wait_for("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'", "0", 10)
    faultlab.assert_hardened(lab, ["pb1"])
    again = lab.converge("site.yml", "--tags", "primary", "--limit", "pb1")
    assert again.changed["pb1"] == 0, again.tail()
    lab.assert_healthy()
