"""One converged lab for every fault case, and what the cases measure it with.

The session builds the lab (POLARDB_LAB_PREFIX must name it: these tests break
and finally destroy it), converges site.yml once, creates the table the writer
fills on pb1, and tears everything down at the end. Cases run in file order
(test_1_..., test_2_...) and each leaves the lab healthy for the next. The
writer, the measurements and the session itself are shared with
tests/faults_polardb (tests/faultlab.py).
"""
import json

import pytest
import yaml

import faultlab
import labtools
from labtools import docker

STANDBY_MOUNT = "/var/lib/polardb/nvme2n1"
STANDBY_DATA = STANDBY_MOUNT + "/standby"
PRIMARY_DATA = "/var/lib/postgresql/primary"
PG_BIN = "/usr/lib/postgresql/15/bin"
PASSWORD = yaml.safe_load((labtools.PROJECT / "inventory/lab/group_vars/all.yml").read_text())[
    "polardb_replication_password"]


class FaultLab(faultlab.FaultLab):
    """The PostgreSQL-engine lab: pb3's data directory on its mounted ext4 disk."""

    standby_mount = STANDBY_MOUNT
    standby_data = STANDBY_DATA
    primary_data = PRIMARY_DATA
    pg_bin = PG_BIN
    password = PASSWORD

    def fingerprint(self):
        """What a run that changes nothing leaves exactly as it was, on pb1 and pb3."""
        pb3 = self.sh("pb3", """
            readlink /dev/nvme2n1; findmnt -n -o MAJ:MIN,TARGET --mountpoint %(mount)s
            cd %(data)s && md5sum postgresql.conf postgresql.auto.conf polardb_standby.conf standby.signal
            md5sum /var/lib/postgresql/.pgpass.pb3; stat -c '%%i %%U %%a' . /var/lib/postgresql/.pgpass.pb3
            ls -A /data /var/lib/polardb %(mount)s; ls /dev | grep -v -e '^pts$' -e '^shm$'
        """ % dict(mount=STANDBY_MOUNT, data=STANDBY_DATA))
        pb1 = self.sh("pb1", "cd %s && md5sum pg_hba.conf postgresql.conf postgresql.auto.conf polardb_primary.conf"
                      % PRIMARY_DATA)
        sql = self.db("pb1").query(
            "SELECT string_agg(slot_name || ':' || slot_type, ',' ORDER BY slot_name) FROM pg_replication_slots; "
            "SELECT md5(rolpassword) FROM pg_authid WHERE rolname = 'replicator'")
        return dict(pb3=pb3, pb1=pb1, pb1_catalog=sql, loop_devices=sorted(labtools.attached_lab_devices()),
                    pb1_started=self.postmaster_start("pb1"), pb3_started=self.postmaster_start("pb3"))


def create_network_with_a_fixed_subnet():
    """The lab network, created before the lab role with the subnet Docker picks, but fixed.

    Only a network with a configured subnet lets `docker network connect --ip`
    give a container its old address back, as a real network cut would.
    """
    if docker("network", "inspect", labtools.NETWORK, check=False).returncode == 0:
        return
    label = "org.polardb.lab=" + labtools.NETWORK
    docker("network", "create", "--label", label, labtools.NETWORK)
    [config] = json.loads(docker("network", "inspect", "-f", "{{json .IPAM.Config}}", labtools.NETWORK).stdout)
    docker("network", "rm", labtools.NETWORK)
    docker("network", "create", "--label", label, "--subnet", config["Subnet"], "--gateway", config["Gateway"],
           labtools.NETWORK)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    yield from faultlab.session_lab(FaultLab(tmp_path_factory.mktemp("faults")), "make test-faults uses faults-",
                                    before_lab=create_network_with_a_fixed_subnet)
