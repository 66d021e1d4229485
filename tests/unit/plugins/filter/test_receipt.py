import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.polardb.cluster.plugins.filter.lifecycle import rejoined_line
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


def test_a_switchover_receipt_says_how_each_host_rejoined_and_how_long_it_took():
    rejoined = {'pb3': {'method': 'rewind', 'seconds': '3.456', 'kept_in': '/d.old-20261207T150000Z',
                        'aside_seconds': '1.2', 'rewind_failed': None},
                'pb2': {'method': 'streaming', 'seconds': 0, 'kept_in': None, 'rewind_failed': None},
                'pb4': {'method': 'reseed', 'seconds': 20, 'kept_in': '/e.old-1',
                        'rewind_failed': 'pg_rewind: error: target server needs to use either data checksums '
                                         'or "wal_log_hints = on"'}}
    done = receipt(dict(FENCED_PROMOTION, operation='switchover', rejoined=rejoined))
    assert done['rejoined'] == rejoined
    assert done['line'].endswith(
        ' Rejoined: pb2 streamed already; pb3 rewound (pg_rewind) in 3.46 s, its old directory kept in '
        '/d.old-20261207T150000Z (copied there in 1.20 s); pb4 copied again in 20.00 s (pg_rewind did not bring it back: pg_rewind: '
        'error: target server needs to use either data checksums or "wal_log_hints = on"), its old directory '
        'kept in /e.old-1.')


def test_a_receipt_refuses_a_rejoin_method_it_does_not_know():
    with pytest.raises(AnsibleFilterError, match=r"rejoined names for pb3 the method 'teleport'"):
        receipt(dict(FENCED_PROMOTION, rejoined={'pb3': {'method': 'teleport'}}))


def test_a_promotion_receipt_has_no_rejoin():
    assert 'rejoined' not in receipt(FENCED_PROMOTION) and 'Rejoined' not in receipt(FENCED_PROMOTION)['line']


def test_the_rejoin_alone_has_its_sentence_when_there_was_nothing_to_swap():
    assert rejoined_line({'pb3': {'method': 'reseed', 'seconds': 9, 'kept_in': None}}) == \
        'Rejoined: pb3 copied again in 9.00 s.'
    with pytest.raises(AnsibleFilterError, match='expects a dict of how each host rejoined'):
        rejoined_line({})
