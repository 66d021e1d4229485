"""bench/dr.py: the longest a ledger client waited for a commit across an operation."""
import importlib.util
import pathlib

import pytest

SPEC = importlib.util.spec_from_file_location("bench_dr", pathlib.Path(__file__).resolve().parents[2] / "bench" / "dr.py")
dr = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(dr)


def ledger_with(times):
    ledger = dr.Ledger("postgresql", ("pb1", "pb3"))
    ledger.acknowledged = [(ident, at) for ident, at in enumerate(times, 1)]
    return ledger


@pytest.mark.parametrize("times, start, end, gap", [
    ([0.0, 0.1, 0.2, 4.2, 4.3], 0.15, 4.0, 4.0),      # the pause spans the run
    ([0.0, 1.0, 2.0, 3.0, 9.0], 0.5, 2.5, 1.0),       # a later pause is not this run's
    ([0.0, 0.1, 0.2], 0.15, 1.0, 0.8),                # nothing acknowledged since 0.2: up to the run's end
    ([5.0], 1.0, 2.0, 4.0),                           # nothing before: from the run's start to the first after
])
def test_longest_gap_spans_the_last_commit_before_to_the_first_after(times, start, end, gap):
    assert ledger_with(times).longest_gap(start, end) == pytest.approx(gap)


def test_every_engine_ends_with_a_step_that_names_the_primary_it_leaves():
    assert [step[2] for step in dr.STEPS["postgresql"]][-1] == "pb1"
    assert dr.STEPS["polardb"][-1][2] == "pb3"


REJOIN_SPEC = importlib.util.spec_from_file_location(
    "bench_rejoin", pathlib.Path(__file__).resolve().parents[2] / "bench" / "rejoin.py")


@pytest.mark.parametrize("printed, found", [
    ('"msg": "Rejoined: pb1 rewound (pg_rewind) in 3.40 s, its old directory kept in '
     '/var/lib/postgresql/primary.old-20261207T150000Z (copied there in 1.20 s)."',
     ("rewound (pg_rewind)", "3.40", "/var/lib/postgresql/primary.old-20261207T150000Z", "1.20")),
    ('"msg": "Receipt: switchover of pb3 (from pb3): ... Rejoined: pb1 copied again in 9.00 s (pg_rewind did not '
     'bring it back: pg_rewind: error: could not open target file \\"/d/x (y)\\": Permission denied), its old '
     'directory kept in /var/lib/postgresql/primary.old-20261207T150000Z."',
     ("copied again", "9.00", "/var/lib/postgresql/primary.old-20261207T150000Z", None)),
])
def test_the_rejoin_bench_reads_how_pb1_rejoined_from_what_switchover_prints(printed, found, monkeypatch):
    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
    rejoin = importlib.util.module_from_spec(REJOIN_SPEC)
    REJOIN_SPEC.loader.exec_module(rejoin)
    assert rejoin.REJOINED.search(printed).groups() == found
