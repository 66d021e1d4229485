"""Values several roles need are defined once, in role polardb, and derived from there.

A role keeping its own copy (storage_disk beside standby_disk, say) lets the two
drift apart: the standby would then look for a disk the storage role never made.
"""
import pathlib

import pytest
import yaml

ROLES = pathlib.Path(__file__).resolve().parents[2] / 'roles'
SHARED = ('engine', 'bin_dir', 'bin_dirs', 'home', 'socket_dir', 'port', 'os_user', 'primary', 'primary_address',
          'replication_user', 'slot_name', 'disk', 'disk_alias', 'alias', 'mount_point', 'disk_mount_point',
          'pfs_cluster', 'cluster', 'datadir', 'polar_datadir', 'host_id', 'hostid')


def defaults(role):
    path = ROLES / role / 'defaults' / 'main.yml'
    return yaml.safe_load(path.read_text()) or {} if path.is_file() else {}


ROLE_NAMES = sorted(path.name for path in ROLES.iterdir() if path.is_dir() and path.name not in ('polardb', 'lab'))


def test_role_polardb_defines_the_shared_values():
    shared = defaults('polardb')
    assert {'polardb_engine', 'polardb_bin_dir', 'polardb_socket_dir', 'polardb_primary', 'polardb_slot_name',
            'polardb_disk', 'polardb_disk_alias', 'polardb_disk_mount_point', 'polardb_pfs_cluster',
            'polardb_datadir', 'polardb_host_id'} <= set(shared)


@pytest.mark.parametrize('role', ROLE_NAMES)
def test_no_role_keeps_its_own_copy_of_a_shared_value(role):
    copies = sorted(name for name in defaults(role) if name[len(role) + 1:] in SHARED)
    assert copies == [], '%s defines %s; use the polardb_* value of role polardb' % (role, ', '.join(copies))


@pytest.mark.parametrize('role', ROLE_NAMES)
def test_each_role_depends_on_role_polardb(role):
    meta = yaml.safe_load((ROLES / role / 'meta' / 'main.yml').read_text())
    names = [dep['role'] if isinstance(dep, dict) else dep for dep in meta.get('dependencies') or []]
    assert any(name in ('polardb', 'polardb.cluster.polardb') for name in names), names
