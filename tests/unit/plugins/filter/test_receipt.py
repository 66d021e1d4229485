import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.polardb.cluster.plugins.filter.receipt import receipt

FENCED_PROMOTION = dict(operation='promote', host='pb3', old_primary='pb1', started=1765100000.0,
                        writable=1765100012.4, fenced=1765100000.5, since_last_commit=11.8, timeline=2,
                        switch_lsn='0/5000118', first_xid='812', old_end_lsn='0/50000A0', old_end_unknown='')


def test_a_fenced_promotion_counts_its_gap_from_the_stop_and_loses_nothing_the_new_primary_replayed():
    done = receipt(FENCED_PROMOTION)
    assert done['seconds_to_writable'] == 12.4
    assert done['write_gap_seconds'] == 11.9 and done['write_gap_from'] == 'when this run stopped pb1'
    assert done['bytes_lost'] == 0 and done['bytes_lost_unknown'] is None and done['transactions_lost'] is None
    assert done['at'] == '2025-12-07T09:33:32Z' and done['timeline'] == 2 and done['first_xid'] == '812'
    assert done['line'] == ('promote of pb3 (from pb1): writable after 12.40 s; write gap 11.90 s from when this '
                            'run stopped pb1; 0 bytes lost: the WAL of pb1 ended at 0/50000A0, timeline 2 began '
                            'at 0/5000118.')


def test_wal_past_the_switch_point_is_counted_as_lost():
    done = receipt(dict(FENCED_PROMOTION, old_end_lsn='1/00000118'))
    assert done['bytes_lost'] == (1 << 32) - 0x5000000
    assert '%d bytes lost' % done['bytes_lost'] in done['line']


def test_a_primary_that_was_not_stopped_here_counts_the_gap_from_the_last_replayed_commit():
    done = receipt(dict(FENCED_PROMOTION, fenced=None, old_end_lsn=None,
                        old_end_unknown="pb1's host could not be asked"))
    assert done['write_gap_seconds'] == 11.8
    assert done['write_gap_from'] == 'the last commit pb3 replayed from pb1'
    assert done['bytes_lost'] is None and done['bytes_lost_unknown'] == "pb1's host could not be asked"
    assert done['line'].endswith("bytes lost unknown: pb1's host could not be asked.")


def test_nothing_replayed_and_nothing_stopped_leaves_the_gap_unknown():
    done = receipt(dict(FENCED_PROMOTION, fenced=None, since_last_commit=None))
    assert done['write_gap_seconds'] is None
    assert 'write gap unknown: pb3 replayed no commit from pb1' in done['line']


def test_a_new_primary_that_does_not_say_where_its_timeline_began_leaves_the_loss_unknown():
    done = receipt(dict(FENCED_PROMOTION, switch_lsn=None))
    assert done['bytes_lost'] is None and done['switch_lsn'] is None
    assert done['bytes_lost_unknown'] == 'pb3 did not say where its timeline began (pg_last_wal_replay_lsn)'


@pytest.mark.parametrize('bad', [None, 'promote', dict(FENCED_PROMOTION, first_xid=''),
                                 dict(FENCED_PROMOTION, old_end_lsn='not a position')])
def test_what_cannot_make_a_receipt_is_refused(bad):
    with pytest.raises(AnsibleFilterError):
        receipt(bad)
