"""A node certificate the collection made is made again once it expires within polardb_tls_renew_days (30),
installed and the server reloaded; replication goes on over TLS, and the status shows each certificate's expiry."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import faultlab
import labtools

TLS_DIR = labtools.PROJECT / ".lab" / "tls"
NODE_CERT = "/var/lib/postgresql/tls/node.crt"


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def node_certificate(lab, host):
    return x509.load_pem_x509_certificate(lab.sh(host, "cat " + NODE_CERT).encode() + b"\n")


def controller_file(lab, host):
    """The file on the controller that the role installed as host's certificate."""
    installed = node_certificate(lab, host)
    for path in sorted(TLS_DIR.glob(host + "-*.crt")):
        if x509.load_pem_x509_certificate(path.read_bytes()) == installed:
            return path
    raise AssertionError("no certificate in %s is the one %s uses" % (TLS_DIR, host))


def reissue(path, not_after):
    """The same certificate (key, names, uses) signed again by the lab's CA, valid until not_after."""
    old = x509.load_pem_x509_certificate(path.read_bytes())
    ca = x509.load_pem_x509_certificate((TLS_DIR / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((TLS_DIR / "ca.key").read_bytes(), password=None)
    builder = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(ca.subject)
               .public_key(old.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(utcnow() - datetime.timedelta(hours=1)).not_valid_after(not_after))
    for extension in old.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    path.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


def test_a_certificate_due_for_renewal_is_made_again_installed_and_reloaded(lab):
    path = controller_file(lab, "pb3")
    # 29.5 days left: a run with a window of 29 days installs it as it is (its file changed)
    soon = (utcnow() + datetime.timedelta(days=29, hours=12)).replace(microsecond=0)
    reissue(path, soon)
    lab.converge(*lab.rerun, "-e", "polardb_tls_renew_days=29")
    assert node_certificate(lab, "pb3").not_valid_after_utc == soon
    status = labtools.status_document(lab.converge("playbooks/status.yml", "-e", "status_format=json").output)
    assert status["pb3"]["certificate"]["not_after"] == soon.strftime("%Y-%m-%dT%H:%M:%SZ"), status["pb3"]
    assert 29.4 < status["pb3"]["certificate"]["days_left"] < 29.6
    assert status["pb1"]["certificate"]["days_left"] > 800
    assert "due for renewal" in lab.converge("playbooks/status.yml").output

    # within the default window of 30 days: made again, installed, pb3 reloaded
    loaded = lab.db("pb3").query("SELECT pg_conf_load_time()")
    run = lab.converge()
    # signed on the controller: the node's new certificate below is the controller's file, 825 days long
    missing = [name for name in ("Install the CA certificate, the node's certificate and its key",
                                 "Reload the standby for its new certificate")
               if name not in faultlab.changed_tasks(run, "pb3")]
    assert missing == [], (missing, run.tail())
    renewed = node_certificate(lab, "pb3")
    assert renewed.not_valid_after_utc > utcnow() + datetime.timedelta(days=800)
    assert renewed == x509.load_pem_x509_certificate(path.read_bytes())
    assert lab.db("pb3").query("SELECT pg_conf_load_time()") > loaded, "pb3 was not reloaded"

    # pb3's walreceiver logs in again, presenting the renewed certificate, and streams over TLS
    lab.db("pb1").query("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'pb3'")
    lab.wait_streaming()
    assert lab.db("pb1").query("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_replication r USING (pid) "
                               "WHERE r.application_name = 'pb3'") == "t"
    lab.assert_healthy()

    line = lab.converge("playbooks/status.yml").output
    assert "certificate valid until %s" % renewed.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ") in line, line
