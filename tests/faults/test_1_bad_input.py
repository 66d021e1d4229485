"""Bad input on the converged lab: a clear error within a bounded time, and nothing changed.

"Nothing changed" is checked three ways: the run fails, PLAY RECAP counts
changed=0 for every host, and a fingerprint of pb1 and pb3 (settings files,
password file, pg_hba.conf, slots, alias, mount, loop devices, postmaster
start times) is the same before and after.
"""
import re

import pytest

FAIL_WITHIN_S = 60


def assert_refused(lab, run, *messages):
    assert run.returncode != 0, run.tail()
    assert run.recap and all(count == 0 for count in run.changed.values()), run.tail()
    for message in messages:
        assert re.search(message, run.output), "%r not in the output\n%s" % (message, run.tail())
    assert run.seconds < FAIL_WITHIN_S, run.tail()


@pytest.mark.parametrize("args, messages", [
    pytest.param(("--limit", "pb3", "--tags", "storage", "-e", "storage_image=/nonexistent/dir/standby.img"),
                 [r"cannot create /nonexistent/dir/standby.img: folder /nonexistent/dir does not exist"],
                 id="image-in-a-missing-folder"),
    pytest.param(("--limit", "pb3", "--tags", "storage", "-e", "polardb_disk_alias=/var/tmp/nvme2n1"),
                 [r"alias=/var/tmp/nvme2n1 must be directly under /dev"],
                 id="alias-outside-dev"),
    pytest.param(("--limit", "pb3", "-e", "polardb_primary_address=pb1.does-not-resolve.invalid"),
                 [r"pb3 cannot resolve the primary pb1 \(pb1.does-not-resolve.invalid\)"],
                 id="primary-does-not-resolve"),
    pytest.param(("--limit", "pb3", "-e", "polardb_replication_password=not-the-password"),
                 [r"Could not ask the primary replicator@\S*pb1:5432 .*password authentication failed "
                  r"for user \\?\"replicator\\?\""],
                 id="wrong-replication-password"),
    pytest.param(("-e", "polardb_bin_dir=/usr/lib/postgresql/14/bin"),
                 [r"pb1 lacks postgres, pg_ctl, initdb, pg_basebackup, psql, pg_controldata in "
                  r"/usr/lib/postgresql/14/bin \(engine postgresql\)"],
                 id="binaries-missing"),
    pytest.param(("-e", "polardb_engine=postgress"),
                 [r"polardb_engine must be one of: polardb, postgresql, got: postgress"],
                 id="engine-misspelled"),
    pytest.param(("-e", "primary_hba_method=kerberos"),
                 [r"primary_hba_method must be one of: scram-sha-256, md5, cert, got: kerberos"],
                 id="hba-method-unknown"),
    # Certificates are only presented over TLS.
    pytest.param(("-e", "primary_hba_method=cert", "-e", "polardb_tls=false"),
                 [r"primary_hba_method is cert, which logs followers in with their certificates over TLS, "
                  r"and polardb_tls is off"],
                 id="cert-without-tls"),
    # Checked on the controller before any host changes (an empty password used to change the
    # primary's role first, then fail speaking of IDENTIFY_SYSTEM).
    pytest.param(("-e", "polardb_replication_password="),
                 [r"polardb_replication_password is empty for pb1, pb2, pb3: set it in the inventory"],
                 id="empty-password"),
    pytest.param(("-e", "polardb_primary=pb9"),
                 [r"polardb_primary is 'pb9' for pb1, pb2, pb3, which is not a host of the inventory"],
                 id="unknown-primary"),
])
def test_bad_variable_is_refused_and_changes_nothing(lab, args, messages):
    before = lab.fingerprint()
    run = lab.playbook("site.yml", *args)
    assert_refused(lab, run, *messages)
    assert lab.fingerprint() == before


@pytest.mark.parametrize("slot", ["Standby3", "pb-3"])
def test_slot_names_with_upper_case_or_dashes_are_refused_by_the_primary(lab, slot):
    inventory = lab.inventory("bad-slot", host_vars={"pb3": {"polardb_slot_name": slot}})
    before = lab.fingerprint()
    run = lab.playbook("-i", inventory, "site.yml")
    assert_refused(lab, run, r"polardb_slot_name of pb3 is '%s': it must be 1 to 63 lower-case letters, digits or "
                             r"underscores" % slot)
    assert run.recap["pb1"]["failed"] == 1
    assert lab.fingerprint() == before


@pytest.mark.parametrize("standbys, message", [
    pytest.param(("pb2",), r"pb2 is in groups replica and standby: a host is exactly one of primary, replica or "
                           r"standby", id="host-in-two-groups"),
    pytest.param(("PB3",), r"PB3 and pb3 all get the replication slot and application_name pb3, so the primary "
                           r"would count one's stream as the other's", id="two-hosts-one-slot"),
])
def test_a_cluster_of_the_wrong_shape_is_refused_before_any_host_changes(lab, standbys, message):
    inventory = lab.inventory("bad-shape", standbys=standbys)
    before = lab.fingerprint()
    run = lab.playbook("-i", inventory, "site.yml")
    assert_refused(lab, run, message)
    assert lab.fingerprint() == before


def test_a_bad_slot_name_is_refused_by_the_standby_alone(lab):
    inventory = lab.inventory("bad-slot", host_vars={"pb3": {"polardb_slot_name": "Standby-3"}})
    before = lab.fingerprint()
    run = lab.playbook("-i", inventory, "site.yml", "--limit", "pb3")
    assert_refused(lab, run, r"polardb_slot_name of pb3 is 'Standby-3': it must be 1 to 63")
    assert lab.fingerprint() == before


def test_a_disk_holding_another_filesystem_is_not_formatted(lab):
    # An ext2 disk behind its own alias, attached the way the storage role attaches one.
    disk = dict(image="/data/foreign.img", size="64M", alias="/dev/foreign0")
    lab.adhoc("pb3", "polardb.cluster.loop_device", disk)
    try:
        lab.sh("pb3", "mkfs.ext2 -q -F -L operator-data /dev/foreign0")
        identity = lab.sh("pb3", "blkid -o export /dev/foreign0")
        before = lab.fingerprint()
        run = lab.playbook("site.yml", "--limit", "pb3", "--tags", "storage",
                           "-e", "storage_image=%(image)s storage_size=%(size)s polardb_disk_alias=%(alias)s" % disk,
                           "-e", "storage_mount_point=/var/lib/polardb/foreign0")
        assert_refused(lab, run, r"/dev/foreign0.* is already used as ext2, use force=(yes|true) to overwrite")
        assert lab.sh("pb3", "blkid -o export /dev/foreign0") == identity
        assert lab.sh("pb3", "test -e /var/lib/polardb/foreign0 || echo absent") == "absent"
        assert lab.fingerprint() == before
    finally:
        lab.adhoc("pb3", "polardb.cluster.loop_device", dict(disk, state="absent", remove_image=True))


def test_a_data_dir_holding_another_cluster_is_refused(lab):
    other = lab.standby_mount + "/other-cluster"
    lab.sh("pb3", "/usr/lib/postgresql/15/bin/initdb -D %s >/dev/null" % other, user="postgres")
    try:
        identity = lab.sh("pb3", "/usr/lib/postgresql/15/bin/pg_controldata %s | grep 'system identifier'" % other)
        files = lab.sh("pb3", "cd %s && find . | sort | md5sum" % other)
        before = lab.fingerprint()
        run = lab.playbook("site.yml", "--limit", "pb3", "-e", "standby_data_dir=" + other)
        assert_refused(lab, run, r"Refusing to back up: data_dir %s holds a cluster of another system "
                                 r"\(system identifier %s; the primary's is %s\)"
                       % (other, identity.split()[-1], lab.system_identifier("pb1")),
                       r"Set force=true")
        assert lab.sh("pb3", "cd %s && find . | sort | md5sum" % other) == files
        assert lab.fingerprint() == before
    finally:
        lab.sh("pb3", "rm -rf " + other)
