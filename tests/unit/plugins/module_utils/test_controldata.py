import pathlib

import pytest

from ansible_collections.polardb.cluster.plugins.module_utils.controldata import parse_controldata, promoted_copy

RECORDINGS = pathlib.Path(__file__).resolve().parents[2] / 'recordings' / 'lifecycle'


@pytest.mark.parametrize('name, state, timeline', [
    ('controldata-running-promoted.txt', 'in production', 1),
    ('controldata-clean-primary.txt', 'shut down', 1),
])
def test_parse_reads_the_recorded_outputs(name, state, timeline):
    control = parse_controldata((RECORDINGS / name).read_text())
    assert control['system_identifier'].isdigit() and len(control['system_identifier']) == 19
    assert (control['state'], control['timeline']) == (state, timeline)


def test_parse_of_nothing_knows_nothing():
    assert parse_controldata('') == parse_controldata(None) == dict(system_identifier=None, state=None,
                                                                   timeline=None)


@pytest.mark.parametrize('control, primary_timeline, recovery_files, promoted', [
    (dict(state='in archive recovery', timeline=1), 1, ['standby.signal'], False),
    (dict(state='shut down in recovery', timeline=1), 1, [], False),
    (dict(state='in production', timeline=1), 1, ['standby.signal'], False),    # a copy about to recover
    (dict(state='in production', timeline=1), 1, [], True),                     # ran as a primary
    (dict(state='shut down', timeline=1), 1, ['backup_label'], False),
    (dict(state='in archive recovery', timeline=3), 2, ['standby.signal'], True),  # on a later timeline
    (dict(state=None, timeline=None), 1, [], False),
])
def test_a_copy_is_promoted_when_it_ran_as_a_primary_or_went_ahead(control, primary_timeline, recovery_files,
                                                                   promoted):
    reason = promoted_copy(control, primary_timeline, recovery_files)
    assert bool(reason) is promoted
    if promoted:
        assert 'timeline %s' % control['timeline'] in reason and control['state'] in reason
