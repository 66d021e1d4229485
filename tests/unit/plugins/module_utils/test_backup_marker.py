import json
import os

import pytest

from ansible_collections.polardb.cluster.plugins.module_utils.backup_marker import (
    Marker, dir_entries, empty_local, local_size, marker_path)
from ansible_collections.polardb.cluster.plugins.module_utils.backup_plan import BackupFailed


@pytest.fixture
def home(tmp_path):
    (tmp_path / 'standby' / 'base').mkdir(parents=True)
    (tmp_path / 'standby' / 'base' / 'f').write_text('x' * 10)
    (tmp_path / 'standby' / 'PG_VERSION').write_text('15\n')
    return tmp_path


def test_the_marker_sits_beside_data_dir_hidden(home):
    assert marker_path(str(home / 'standby')) == str(home / '.standby.polar_basebackup.json')


def test_write_read_and_remove(home):
    marker = Marker(str(home / 'standby'), 'polardb.cluster.polar_basebackup')
    assert marker.read() is None and marker.pid() is None
    record = marker.write([dict(kind='local', path=str(home / 'standby'), created=True)])
    assert marker.read() == json.loads(json.dumps(record)) and marker.pid() == os.getpid()
    assert not os.path.exists(marker.path + '.tmp')
    marker.remove()
    assert marker.read() is None


def test_an_unreadable_marker_is_reported_not_guessed(home):
    marker = Marker(str(home / 'standby'), 'polardb.cluster.polar_basebackup')
    (home / '.standby.polar_basebackup.json').write_text('{half')
    with pytest.raises(BackupFailed, match='is unreadable'):
        marker.read()


def test_a_second_run_is_refused_while_the_first_holds_the_lock(home):
    first = Marker(str(home / 'standby'), 'polardb.cluster.polar_basebackup')
    first.lock()
    first.write([])
    try:
        with pytest.raises(BackupFailed) as caught:
            Marker(str(home / 'standby'), 'polardb.cluster.polar_basebackup').lock()
        assert 'Another polar_basebackup run (pid %d) holds the lock on %s' % (os.getpid(), home) in str(caught.value)
    finally:
        os.close(first.lock_fd)


def test_clean_removes_only_the_runs_own_paths(home):
    marker = Marker(str(home / 'standby'), 'polardb.cluster.polar_basebackup')
    (home / 'elsewhere').mkdir()
    (home / 'elsewhere' / 'keep').write_text('')
    (home / 'staging').mkdir()
    record = dict(locations=[dict(kind='local', path=str(home / 'standby'), created=False),
                             dict(kind='local', path=str(home / 'staging'), created=True),
                             dict(kind='local', path=str(home / 'elsewhere'), created=True),
                             dict(kind='pfs', path='/nvme2n1/shared_data', created=True),
                             dict(kind='pfs', path='/nvme2n1', created=True)])
    warned, emptied = [], []
    own = {str(home / 'standby'), str(home / 'staging'), '/nvme2n1/shared_data', '/nvme2n1'}
    marker.clean(record, own, lambda path, remove_dir: emptied.append((path, remove_dir)), warned.append)
    assert dir_entries(str(home / 'standby')) == [] and not (home / 'staging').exists()
    assert (home / 'elsewhere' / 'keep').exists() and 'elsewhere' in warned[0] and len(warned) == 1
    assert emptied == [('/nvme2n1/shared_data', True)]   # never a disk root


def test_empty_local_does_not_follow_a_link_out(home):
    (home / 'outside').mkdir()
    (home / 'outside' / 'precious').write_text('y')
    os.symlink(str(home / 'outside'), str(home / 'standby' / 'link'))
    assert local_size(str(home / 'standby')) > 12
    empty_local(str(home / 'standby'))
    assert dir_entries(str(home / 'standby')) == [] and (home / 'outside' / 'precious').exists()
    empty_local(str(home / 'standby'), remove_dir=True)
    assert dir_entries(str(home / 'standby')) is None
