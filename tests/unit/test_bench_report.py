"""bench/report.py: each figure beside its target, in seconds or as a ratio to a figure of the same run."""
import pathlib
import subprocess
import sys

REPORT = pathlib.Path(__file__).resolve().parents[2] / "bench" / "report.py"


def report(tmp_path, targets, results):
    (tmp_path / "targets.tsv").write_text(targets)
    (tmp_path / "results.tsv").write_text(results)
    run = subprocess.run([sys.executable, str(REPORT), str(tmp_path / "targets.tsv"), str(tmp_path / "results.tsv")],
                         capture_output=True, text=True, check=True)
    return run.stdout.splitlines()[1:]


def line_of(lines, *words):
    (found,) = [line for line in lines if all(word in line.split() for word in words)]
    return found


def test_a_ratio_over_its_limit_is_marked_and_one_within_is_not(tmp_path):
    lines = report(tmp_path, "# comment\nsite_first_converge\t2.0\traw_site\nsite_check\t1.5\tping_round\n",
                   "raw_site\t6.0\nsite_first_converge\t30.0\nping_round\t3.0\nsite_check\t4.0\n")
    converge = line_of(lines, "site_first_converge")
    assert "raw_site 6.0 s: 5.00x" in converge and converge.endswith("<= 2.00x  over target")
    check = line_of(lines, "site_check")
    assert "ping_round 3.0 s: 1.33x" in check and check.endswith("<= 1.50x")


def test_seconds_targets_and_figures_without_target(tmp_path):
    lines = report(tmp_path, "lab_down\t10\n", "lab_down\t12.5\nlab_up\t6.0\n")
    assert line_of(lines, "lab_down").endswith("<= 10 s  over target")
    assert line_of(lines, "lab_up").split()[-1] == "-"
