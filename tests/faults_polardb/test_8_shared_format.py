"""A reformat of the shared disk from pb1 with pb1's database and pfsd stopped: nothing on pb1 tells that pb2's
replica lives on the disk, so pb2 is asked, and the format is refused naming it; pb2 keeps serving its rows."""
import re

SHARED_DISK = "nvme1n1"
SHARED_DATA = "/nvme1n1/shared_data/"
PRIMARY_DATA = "/home/postgres/primary"
BOTH = ("site.yml", "--limit", "pb1,pb2")


def shared_tree(lab, host):
    """The shared data's top level, as host's pfs lists it (names only)."""
    listing = lab.sh(host, "pfs -C disk ls %s" % SHARED_DATA)
    return sorted(line.split()[-1] for line in listing.splitlines() if not line.startswith("total"))


def test_a_reformat_from_the_primary_is_refused_while_the_replica_uses_the_disk(lab):
    lab.assert_healthy("pb2")
    rows_on_pb2 = lab.rows("pb2")
    tree = shared_tree(lab, "pb2")
    lab.sh("pb1", "%s/pg_ctl stop -m fast -w -D %s" % (lab.bin, PRIMARY_DATA), user="postgres")
    try:
        lab.sh("pb1", "/usr/local/polarstore/pfsd/bin/stop_pfsd.sh " + SHARED_DISK)
        assert lab.sh("pb1", "pidof pfsdaemon || echo none") == "none"
        pb2_pfsd = lab.sh("pb2", "pidof pfsdaemon")

        run = lab.playbook("site.yml", "--tags", "storage", "--limit", "pb1", "-e", "storage_reformat=true")
        assert run.returncode != 0, run.tail()
        said = " ".join(run.output.split())
        assert re.search(r"nvme1n1 is shared, and formatting it is refused while another host uses it: "
                         r"pb2: pfsdaemon pid %s serves it, in use by pid \d+" % pb2_pfsd, said), run.tail()
        assert run.changed.get("pb1") == 0, run.tail()
        # the disk is as it was, and pb2's replica still answers with every row it had
        assert shared_tree(lab, "pb2") == tree
        assert lab.db("pb2").query("SELECT pg_is_in_recovery()") == "t"
        assert lab.rows("pb2") == rows_on_pb2
    finally:
        lab.converge(*BOTH)
    lab.assert_healthy("pb2")
    lab.assert_healthy("pb3")
