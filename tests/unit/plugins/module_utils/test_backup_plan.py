import pytest

from ansible_collections.polardb.cluster.plugins.module_utils.backup_plan import (
    Location, Refused, plan_backup, promotion_reason)

PRIMARY = '7449012345678901234'
OTHER = '6000000000000000042'
DATA_DIR = '/home/postgres/standby'
SHARED = '/nvme2n1/shared_data'


def locations(data=None, shared=None, staging=None):
    found = dict(data_dir=Location('local', DATA_DIR, 'data_dir', data),
                 polar_datadir=Location('pfs', SHARED, 'polar_datadir', shared))
    if staging is not None:
        found['staging'] = Location('local', DATA_DIR + '.staging/shared_data', 'staging copy', staging)
    return found


def plan(found, local_sysid=None, **kwargs):
    return plan_backup(found, DATA_DIR, PRIMARY, local_sysid, polar_datadir=SHARED, **kwargs)


def labels(in_the_way):
    return [location.label for location in in_the_way]


def test_a_copy_of_the_primary_is_up_to_date_even_under_its_running_server():
    assert plan(locations(['PG_VERSION'], ['base']), PRIMARY, running_pid=42) is None
    assert plan_backup(dict(data_dir=Location('local', DATA_DIR, 'data_dir', ['PG_VERSION'])),
                       DATA_DIR, PRIMARY, PRIMARY) is None   # PostgreSQL: no shared data


def test_empty_or_missing_places_need_a_backup_and_clear_nothing():
    assert plan(locations(None, None)) == []
    assert plan(locations([], [], [])) == []


@pytest.mark.parametrize('found, local_sysid, words', [
    (locations(['notes.txt', 'old']), None, 'data_dir %s is not empty (2 entries: notes.txt, old)' % DATA_DIR),
    (locations(['PG_VERSION'], ['base']), OTHER, 'a cluster of another system (system identifier %s' % OTHER),
    (locations(['PG_VERSION'], []), PRIMARY, 'holds a copy of the primary (system identifier %s) but '
                                             'polar_datadir %s on PFS is missing or empty' % (PRIMARY, SHARED)),
    (locations(['PG_VERSION', 'base'], None), None, 'but no pg_control: PolarDB keeps it in the shared data'),
    (locations(None, ['base']), None, 'polar_datadir %s on PFS is not empty (1 entries: base)' % SHARED),
    (locations(None, None, ['x']), None, 'staging copy %s.staging/shared_data is not empty' % DATA_DIR),
])
def test_anything_else_is_refused_without_force_and_cleared_with_it(found, local_sysid, words):
    with pytest.raises(Refused) as refused:
        plan(found, local_sysid)
    assert words in str(refused.value) and 'Set force=true' in str(refused.value)
    in_the_way = plan(found, local_sysid, force=True)
    assert labels(in_the_way) == [location.label for location in found.values() if location.entries]


def test_what_an_interrupted_run_created_is_cleared_without_force():
    found = locations(['PG_VERSION', 'base'], ['base'])
    assert plan(found, None, owned={DATA_DIR, SHARED}) == []
    assert labels(plan(found, None, owned={DATA_DIR}, force=True)) == ['polar_datadir']


def test_a_promoted_copy_is_refused_even_with_force():
    promoted = promotion_reason(DATA_DIR, PRIMARY, 'it is on timeline 2 (cluster state: in production), '
                                                  'the primary on timeline 1')
    for force in (False, True):
        with pytest.raises(Refused) as refused:
            plan(locations(['PG_VERSION'], ['base']), PRIMARY, promoted=promoted, force=force)
        assert 'force does not override this' in str(refused.value) and 'rebuild_promoted=true' in str(refused.value)
    # what an interrupted run of this module left is no promoted copy
    assert plan(locations(['PG_VERSION'], ['base']), PRIMARY, promoted=promoted, owned={DATA_DIR, SHARED}) == []


def test_a_running_server_is_named_and_never_cleared_even_with_force():
    with pytest.raises(Refused) as refused:
        plan(locations(['PG_VERSION', 'postmaster.pid']), None, running_pid=4242)
    assert 'once the server running there (pid 4242) is stopped' in str(refused.value)
    with pytest.raises(Refused) as forced:
        plan(locations(['PG_VERSION', 'postmaster.pid']), None, running_pid=4242, force=True)
    assert str(forced.value).startswith('A server (pid 4242, %s/postmaster.pid) runs in data_dir' % DATA_DIR)
    assert 'even with force=true' in str(forced.value)
