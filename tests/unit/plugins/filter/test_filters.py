import json
import pathlib

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.polardb.cluster.plugins.filter.hba_sources import hba_sources, host_names, subject_alt_names
from ansible_collections.polardb.cluster.plugins.filter.path_problems import path_problem, path_problems
from ansible_collections.polardb.cluster.plugins.filter import run_fingerprint as run_fingerprint_module
from ansible_collections.polardb.cluster.plugins.filter.run_fingerprint import run_fingerprint
from ansible_collections.polardb.cluster.plugins.filter.shared_disk import pfsd_findings, shared_disk
from ansible_collections.polardb.cluster.plugins.filter.slot_name import slot_name


@pytest.mark.parametrize('host, slot', [('pb3', 'pb3'), ('PB-3.example.com', 'pb_3_example_com'),
                                        ('x' * 70, 'x' * 63)])
def test_slot_name_is_what_postgresql_accepts(host, slot):
    assert slot_name(host) == slot


def test_slot_name_refuses_what_is_not_a_name():
    with pytest.raises(AnsibleFilterError):
        slot_name('')


def test_the_primary_gets_1_and_the_replicas_2_3():
    layout = shared_disk(['pb1', 'pb2', 'pb4'], {'pb1': {}, 'pb2': {}, 'pb4': {}}, '/dev/nvme1n1')
    assert layout == dict(host_ids={'pb1': 1, 'pb2': 2, 'pb4': 3},
                          aliases={'pb1': '/dev/nvme1n1', 'pb2': '/dev/nvme1n1', 'pb4': '/dev/nvme1n1'},
                          problems=[])


def test_inventory_ids_count_and_a_clash_names_both_hosts():
    hostvars = {'pb1': {}, 'pb2': {'polardb_host_id': '1'}}
    layout = shared_disk(['pb1', 'pb2'], hostvars, '/dev/nvme1n1')
    assert layout['host_ids'] == {'pb1': 1, 'pb2': 1}
    assert layout['problems'] == ['pb1 and pb2 both have polardb_host_id 1; hosts sharing a disk need distinct ids']


def test_a_disk_named_differently_names_both_hosts():
    hostvars = {'pb1': {}, 'pb2': {'polardb_disk_alias': '/dev/nvme9n1'}}
    problems = shared_disk(['pb1', 'pb2'], hostvars, '/dev/nvme1n1')['problems']
    assert problems == ['pb1 names the shared disk /dev/nvme1n1 but pb2 names it /dev/nvme9n1; every host '
                        'sharing it must use the same name']


def test_a_host_id_that_is_not_a_number_is_a_problem():
    problems = shared_disk(['pb1'], {'pb1': {'polardb_host_id': 'one'}}, '/dev/nvme1n1')['problems']
    assert problems == ["pb1 has polardb_host_id 'one', which is not a number"]


GETENT_AHOSTS_PB3 = ["172.21.0.4      STREAM pb3", "172.21.0.4      DGRAM  ", "172.21.0.4      RAW    ",
                     "fd00::4         STREAM ", "fd00::4         DGRAM  "]


def test_literals_are_kept_and_names_count_by_what_they_resolve_to():
    addresses = ['pb3', '192.0.2.30', ' 2001:DB8:0::30 ']
    assert host_names(addresses) == ['pb3']
    assert hba_sources(addresses, GETENT_AHOSTS_PB3) == ['192.0.2.30/32', '2001:db8::30/128', '172.21.0.4/32',
                                                         'fd00::4/128']


def test_one_address_given_as_a_string_and_each_source_once():
    assert hba_sources('192.0.2.30', ['192.0.2.30 STREAM 192.0.2.30']) == ['192.0.2.30/32']
    assert host_names('2001:db8::30') == [] and host_names('pb3') == ['pb3']


def test_no_address_at_all_is_an_error():
    with pytest.raises(AnsibleFilterError):
        hba_sources([])


def test_a_certificate_names_addresses_as_ip_and_names_as_dns_each_once():
    assert subject_alt_names(['10.0.0.11', 'db-primary-1', ' 2001:DB8::7 ', '10.0.0.11', 'db-primary-1']) == [
        'IP:10.0.0.11', 'DNS:db-primary-1', 'IP:2001:db8::7']
    assert subject_alt_names('pb1') == ['DNS:pb1']
    with pytest.raises(AnsibleFilterError):
        subject_alt_names([])


class RawHostVars(dict):
    """hostvars as a play gives it: raw_get returns a host's values before templating."""

    def raw_get(self, host):
        return self[host]


def lab_hostvars(**pb3):
    return RawHostVars(
        pb1={'polardb_engine': 'postgresql', 'group_names': ['primary'], 'ansible_docker_host': 'pb1'},
        pb3=dict({'standby_apply_delay': '0', 'group_names': ['standby'], 'unrelated': 1,
                  'ansible_run_tags': ['all']}, **pb3))


def test_run_fingerprint_moves_with_what_the_roles_read_and_only_that(tmp_path):
    base = run_fingerprint(lab_hostvars(), ['pb1', 'pb3'])
    assert base == run_fingerprint(lab_hostvars(), ['pb3', 'pb1', 'pb3'])
    assert base == run_fingerprint(lab_hostvars(unrelated=2, ansible_run_tags=['verify']), ['pb1', 'pb3'])
    assert base != run_fingerprint(lab_hostvars(standby_apply_delay='1h'), ['pb1', 'pb3'])
    assert base != run_fingerprint(lab_hostvars(group_names=['replica']), ['pb1', 'pb3'])
    assert base != run_fingerprint(lab_hostvars(ansible_host='10.0.0.3'), ['pb1', 'pb3'])
    assert base != run_fingerprint(lab_hostvars(), ['pb1'])


class VariableManager(object):
    """Where a play keeps what its tasks registered or set (set_fact), and gathered facts."""

    def __init__(self, **registered):
        self._nonpersistent_fact_cache = registered
        self._fact_cache = {}


def test_run_fingerprint_leaves_out_what_the_run_itself_registered_or_set():
    before = run_fingerprint(lab_hostvars(), ['pb1', 'pb3'])
    during = lab_hostvars(polardb_node_state={'converged': False, 'msg': 'a full run follows'},
                          standby_backup={'changed': True})
    during._variable_manager = VariableManager(pb3={'polardb_node_state': {}, 'standby_backup': {}})
    assert run_fingerprint(during, ['pb1', 'pb3']) == before


def test_run_fingerprint_moves_with_the_controller_files_given(tmp_path):
    tls = tmp_path / '.polardb-tls'
    hosts = ['pb1', 'pb3']
    missing = run_fingerprint(lab_hostvars(), hosts, [str(tls), ''])
    tls.mkdir()
    (tls / 'ca.crt').write_text('CA 1\n')
    first = run_fingerprint(lab_hostvars(), hosts, [str(tls)])
    assert first != missing and first == run_fingerprint(lab_hostvars(), hosts, [str(tls)])
    (tls / 'ca.crt').write_text('CA 2\n')
    assert run_fingerprint(lab_hostvars(), hosts, [str(tls)]) != first


def test_run_fingerprint_reads_the_versions_of_ansible_core_and_of_each_dependency():
    from ansible.release import __version__
    from ansible_collections.community.postgresql import __path__ as postgresql_path
    versions = run_fingerprint_module._versions()
    assert sorted(versions) == ['ansible-core', 'ansible.posix', 'community.crypto', 'community.docker',
                                'community.general', 'community.postgresql']
    assert versions['ansible-core'] == __version__
    manifest = json.loads((pathlib.Path(list(postgresql_path)[0]) / 'MANIFEST.json').read_text())
    assert versions['community.postgresql'] == manifest['collection_info']['version']
    assert run_fingerprint_module._collection_version('nobody.nothing') == 'not installed'


def test_run_fingerprint_moves_with_the_version_of_ansible_core_or_of_a_dependency(monkeypatch):
    base = run_fingerprint(lab_hostvars(), ['pb1', 'pb3'])
    versions = dict(run_fingerprint_module._versions())
    for name, newer in (('ansible-core', '9.9.9'), ('community.postgresql', '4.99.0')):
        monkeypatch.setattr(run_fingerprint_module, '_VERSIONS', [dict(versions, **{name: newer})])
        assert run_fingerprint(lab_hostvars(), ['pb1', 'pb3']) != base, name
    monkeypatch.setattr(run_fingerprint_module, '_VERSIONS', [versions])
    assert run_fingerprint(lab_hostvars(), ['pb1', 'pb3']) == base


def test_run_fingerprint_refuses_a_host_that_is_not_a_list():
    with pytest.raises(AnsibleFilterError):
        run_fingerprint(lab_hostvars(), 'pb1')


@pytest.mark.parametrize('path, message', [
    ('', 'standby_data_dir is empty: it must be an absolute path'),
    ('standby', 'standby_data_dir standby is a relative path: it must be absolute'),
    ('/var/lib/../../etc', 'standby_data_dir /var/lib/../../etc is not a normalised path'),
    ('/data/../etc/passwd', 'standby_data_dir /data/../etc/passwd is not a normalised path'),
    ('/', 'standby_data_dir is /, the root folder'),
    ('/etc/x', 'standby_data_dir /etc/x is in /etc'),
    ('/var/lib', 'standby_data_dir /var/lib is a folder shared with other software'),
])
def test_path_problem_names_the_variable_and_never_suggests_force_or_grow(path, message):
    problem = path_problem(path, 'standby_data_dir')
    assert message in problem and 'force' not in problem and 'grow' not in problem


def test_path_problem_is_empty_for_a_path_of_its_own():
    assert path_problem('/var/lib/polardb/nvme2n1/standby', 'standby_data_dir') == ''


def test_path_problems_names_each_wrong_variable_in_order():
    problems = path_problems({'standby_data_dir': '/', 'standby_rebuild_old_dir': '/var/lib/x.old',
                              'storage_image': '/data/../etc/passwd', 'polardb_state_file': ''})
    assert [problem.split()[0] for problem in problems] == ['standby_data_dir', 'storage_image',
                                                          'polardb_state_file']


def test_path_problems_refuses_what_is_not_a_mapping():
    with pytest.raises(AnsibleFilterError):
        path_problems(['/data/standby'])

def test_pfsd_findings_keeps_what_each_host_answered_and_marks_the_others_unanswered():
    results = [
        {'item': 'pb2', 'changed': False, 'failed': False, 'in_use': True, 'pid': 61, 'clients': ['pid 90: postgres']},
        {'item': 'pb4', 'unreachable': True, 'msg': 'container pfaults-pb4 is not running'},
        {'item': 'pb5', 'failed': False, 'failed_when_result': False, 'msg': 'MODULE FAILURE'},
        {'item': 'pb6', 'changed': False, 'in_use': False, 'pid': None, 'clients': []},
    ]
    assert pfsd_findings(results) == [
        dict(host='pb2', answered=True, pid=61, clients=['pid 90: postgres'], error=''),
        dict(host='pb4', answered=False, pid=None, clients=[], error='container pfaults-pb4 is not running'),
        dict(host='pb5', answered=False, pid=None, clients=[], error='MODULE FAILURE'),
        dict(host='pb6', answered=True, pid=None, clients=[], error=''),
    ]
    assert pfsd_findings([]) == []
    with pytest.raises(AnsibleFilterError, match='results list'):
        pfsd_findings({'results': []})
