"""The lifecycle verdicts, on what real PostgreSQL 15 servers printed (tests/unit/recordings/lifecycle)."""
import pathlib

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.polardb.cluster.plugins.filter.lifecycle import (controldata, follow_verdict, lsn_value,
                                                                          timeline_history, waldump_last_lsn)

RECORDINGS = pathlib.Path(__file__).parents[2] / 'recordings' / 'lifecycle'


def recorded(name):
    return (RECORDINGS / name).read_text()


def stopped(name, waldump):
    control = controldata(recorded('controldata-%s.txt' % name))
    return dict(system_identifier=control['system_identifier'], timeline=control['timeline'],
                last_lsn=waldump_last_lsn(recorded('waldump-%s.txt' % waldump)))


def upstream_of(local, history):
    return dict(system_identifier=local['system_identifier'], timeline=2,
                current_lsn=recorded('upstream-lsn.txt').strip(), history=recorded(history))


def test_a_stopped_primary_reads_as_one_and_a_follower_mark_says_otherwise():
    control = controldata(recorded('controldata-clean-primary.txt'))
    assert control['state'] == 'shut down' and control['timeline'] == 1 and control['readable']
    assert control['checkpoint_lsn'] == '0/3016248' and control['ran_as_primary']
    assert not controldata(recorded('controldata-clean-primary.txt'), ['standby.signal'])['ran_as_primary']


def test_a_promoted_server_ran_as_primary_running_or_stopped():
    running = controldata(recorded('controldata-running-promoted.txt'))
    assert running['state'] == 'in production' and running['ran_as_primary']
    assert controldata(recorded('controldata-stopped-promoted.txt'))['timeline'] == 2


def test_what_is_not_pg_controldata_is_unreadable_not_a_primary():
    control = controldata('pg_controldata: fatal: could not open file "x/global/pg_control"')
    assert not control['readable'] and not control['ran_as_primary'] and control['timeline'] is None


def test_the_last_record_is_where_the_shutdown_checkpoint_begins():
    assert waldump_last_lsn(recorded('waldump-clean-primary.txt')) == '0/03016248'
    assert waldump_last_lsn('') is None


def test_a_cleanly_stopped_former_primary_follows_the_promoted_standby():
    local = stopped('clean-primary', 'clean-primary')
    verdict = follow_verdict(local, upstream_of(local, 'history-2-clean.txt'))
    assert verdict['verdict'] == 'follows' and verdict['switchpoint'] == '0/30162C0', verdict


def test_a_former_primary_that_wrote_past_the_switch_point_diverged_by_that_many_bytes():
    local = stopped('diverged-primary', 'diverged-primary')
    verdict = follow_verdict(local, upstream_of(local, 'history-2.txt'))
    assert verdict['verdict'] == 'diverged'
    assert verdict['bytes_past'] == lsn_value('0/3018540') - lsn_value('0/3018298') > 0
    assert '0/3018298' in verdict['reason']


def test_nothing_unread_counts_as_divergence():
    local = stopped('diverged-primary', 'diverged-primary')
    upstream = upstream_of(local, 'history-2.txt')
    assert follow_verdict(dict(local, last_lsn=None), upstream)['verdict'] == 'unknown'
    assert follow_verdict(dict(local, system_identifier=None), upstream)['verdict'] == 'unknown'
    # timeline 3 upstream whose history file could not be read
    assert follow_verdict(local, dict(upstream, timeline=3, history=''))['verdict'] == 'unknown'


def test_another_system_a_later_timeline_and_a_server_ahead_are_named():
    local = stopped('diverged-primary', 'diverged-primary')
    upstream = upstream_of(local, 'history-2.txt')
    assert follow_verdict(dict(local, system_identifier='1'), upstream)['verdict'] == 'other_system'
    later = follow_verdict(dict(local, timeline=3), upstream)
    assert later['verdict'] == 'diverged' and 'never had' in later['reason']
    same = dict(upstream, timeline=1, current_lsn='0/3000000')
    assert follow_verdict(local, same)['verdict'] == 'ahead'
    assert follow_verdict(local, dict(same, current_lsn='0/4000000'))['verdict'] == 'follows'


def test_history_lines_and_positions():
    assert timeline_history('1\t0/3018298\tno recovery target specified\n\n2\t0/5000000\tx') == \
        {1: '0/3018298', 2: '0/5000000'}
    assert lsn_value('1/0') == 1 << 32
    with pytest.raises(AnsibleFilterError):
        lsn_value('nope')


def cluster(**groups):
    from ansible_collections.polardb.cluster.plugins.filter.cluster_problems import cluster_problems
    hosts = sorted({host for members in groups.values() for host in members})
    slots = {host: host.lower().replace('-', '_') for host in hosts}
    return cluster_problems(dict(groups, all=hosts), slots, {host: 'secret' for host in hosts},
                            {host: groups['primary'][0] for host in hosts})


def test_a_sound_cluster_has_no_problem():
    assert cluster(primary=['pb1'], replica=['pb2'], standby=['pb3']) == []


def test_a_host_in_two_groups_and_two_primaries_are_named():
    problems = cluster(primary=['pb1', 'pb4'], replica=['pb2'], standby=['pb3', 'pb2'])
    assert any('pb2 is in groups replica and standby' in problem for problem in problems), problems
    assert any('group primary holds pb1, pb4' in problem for problem in problems), problems


def test_hosts_that_map_to_one_slot_are_named():
    problems = cluster(primary=['pb1'], standby=['pb-3', 'pb_3'])
    from ansible_collections.polardb.cluster.plugins.filter.cluster_problems import cluster_problems
    derived = cluster_problems(dict(all=['pb1', 'PB3', 'pb3'], primary=['pb1'], standby=['PB3', 'pb3']),
                               {'pb1': None, 'PB3': None, 'pb3': None}, {}, {})
    assert derived and 'PB3 and pb3 all get the replication slot and application_name pb3' in derived[0]
    assert problems == ["pb-3 and pb_3 all get the replication slot and application_name pb_3, so the primary "
                        "would count one's stream as the other's: set polardb_slot_name of all but one of them"]


def test_an_empty_password_and_an_unknown_primary_name_their_variables():
    from ansible_collections.polardb.cluster.plugins.filter.cluster_problems import cluster_problems
    groups = dict(all=['pb1', 'pb3'], primary=['pb1'], standby=['pb3'])
    problems = cluster_problems(groups, {'pb1': 'pb1', 'pb3': 'PB3'}, {'pb1': 'x', 'pb3': ''},
                                {'pb1': 'pb1', 'pb3': 'pb9'})
    assert "polardb_slot_name of pb3 is 'PB3'" in problems[0]
    assert problems[1].startswith('polardb_replication_password is empty for pb3')
    assert problems[2].startswith("polardb_primary is 'pb9' for pb3, which is not a host of the inventory")


def test_conninfo_keeps_the_order_leaves_out_empty_values_and_quotes_for_libpq_then_the_settings_file():
    from ansible_collections.polardb.cluster.plugins.filter.conninfo import conninfo
    params = {'host': '10.0.0.3', 'port': 5432, 'user': 'replicator', 'passfile': '/var/lib/postgresql/.pgpass.pb3',
              'application_name': 'pb3', 'sslmode': ''}
    assert conninfo(params) == ("'host=10.0.0.3 port=5432 user=replicator passfile=/var/lib/postgresql/.pgpass.pb3 "
                                "application_name=pb3'")
    odd = conninfo({'user': "o'brien", 'passfile': '/tmp/my pass\\file'}, conf=False)
    assert odd == "user='o\\'brien' passfile='/tmp/my pass\\\\file'"
    assert conninfo({'user': "o'brien"}) == "'user=''o\\''brien'''"
    with pytest.raises(AnsibleFilterError):
        conninfo({'bad key': 'x'})
