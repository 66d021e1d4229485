import pathlib
import sys

import pytest

from ansible_collections.polardb.cluster.plugins.modules import pfsd_info

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'fakes'))
import pfs_state  # noqa: E402

POSTGRES = ['/home/postgres/tmp_polardb_pg_15_base/bin/postgres', '-D', '/home/postgres/replica']


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A fake /proc and pfsd run dir; no device: pfsd_info never needs it."""
    state = tmp_path / 'state.json'
    pfs_state.make_state(state, disks={}, proc_root=tmp_path / 'proc', run_dir=tmp_path / 'run')
    (tmp_path / 'proc').mkdir(exist_ok=True)
    monkeypatch.setattr(pfsd_info, 'PROC_ROOT', str(tmp_path / 'proc'))
    host = pfs_state.read_state(state)
    host['args'] = dict(disk='nvme1n1', run_dir=str(tmp_path / 'run'))
    return host


def register_client(host, disk, pid, argv):
    """A database registered with pfsd, as it leaves RUN_DIR/DISK/PID.pid."""
    pfs_state.add_process(host['proc_root'], pid, argv)
    folder = pathlib.Path(host['run_dir']) / disk
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ('%d.pid' % pid)).write_text(str(pid))


def test_a_host_that_does_not_use_the_disk(run_module, host):
    pfs_state.add_process(host['proc_root'], 7, ['sleep', 'infinity'])
    result = run_module(pfsd_info, host['args'], check_mode=True)
    assert result == dict(changed=False, disk='nvme1n1', pid=None, pids=[], clients=[], in_use=False)


def test_pfsd_serving_the_disk_and_a_database_using_it(run_module, host):
    pfs_state.show_daemon(host, 'nvme1n1', 61, 1)
    register_client(host, 'nvme1n1', 90, POSTGRES)
    result = run_module(pfsd_info, host['args'])
    assert result['changed'] is False and result['in_use'] is True
    assert (result['pid'], result['pids']) == (61, [61])
    assert result['clients'] == ['pid 90: ' + ' '.join(POSTGRES)]


def test_a_database_whose_pfsd_was_stopped_still_uses_the_disk(run_module, host):
    register_client(host, 'nvme1n1', 90, POSTGRES)
    result = run_module(pfsd_info, host['args'])
    assert result['pid'] is None and result['in_use'] is True and len(result['clients']) == 1


def test_another_disks_daemon_and_clients_do_not_count(run_module, host):
    pfs_state.show_daemon(host, 'nvme2n1', 61, 1)
    register_client(host, 'nvme2n1', 90, POSTGRES)
    result = run_module(pfsd_info, host['args'])
    assert result['in_use'] is False and result['pid'] is None and result['clients'] == []


@pytest.mark.parametrize('name', ['', '/dev/nvme1n1', '..'])
def test_rejects_names_that_are_not_plain_device_names(run_module, host, name):
    result = run_module(pfsd_info, dict(host['args'], disk=name))
    assert result['failed'] and 'device name under /dev' in result['msg']
