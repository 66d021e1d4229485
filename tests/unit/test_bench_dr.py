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
