"""make test leaves out the lab cases marked `full`: each must say why, and a case it names as proving
the same claim in the gate must exist and be in the gate."""
import ast
import pathlib
import re

import pytest

TESTS = pathlib.Path(__file__).resolve().parents[1]
SUITES = ("faults", "faults_polardb", "lifecycle", "integration")


def full_marks(node):
    """The reason of each pytest.mark.full on a test function or on one of its parameters."""
    for call in ast.walk(node):
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "full"
                and ast.unparse(call.func.value) == "pytest.mark"):
            reasons = [kw.value.value for kw in call.keywords if kw.arg == "reason"]
            yield reasons[0] if reasons else ""


def lab_test_functions():
    for suite in SUITES:
        for path in sorted((TESTS / suite).glob("test_*.py")):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                    yield path, node


def gate_cases(path):
    """Names of path's test functions with no full mark on the function itself (some parameters may run)."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            marks_on_function = [d for d in node.decorator_list
                                 if isinstance(d, ast.Call) and ast.unparse(d.func) == "pytest.mark.full"]
            if not marks_on_function:
                names.append(node.name)
    return names


MARKED = [(path, node, reason) for path, node in lab_test_functions() for reason in full_marks(node)]


def test_some_cases_are_left_to_the_full_run():
    assert MARKED


@pytest.mark.parametrize("path, node, reason", MARKED,
                         ids=["%s::%s" % (path.name, node.name) for path, node, _ in MARKED])
def test_each_full_mark_says_why_and_names_a_case_that_runs_in_the_gate(path, node, reason):
    assert reason, "%s::%s is left to make test-full without a reason" % (path.name, node.name)
    for named in re.findall(r"\b((?:tests/)?[a-z_]+/test_\w+)", reason):
        folder, _, prefix = named.replace("tests/", "").partition("/")
        files = [f for f in sorted((TESTS / folder).glob("test_*.py"))
                 if f.stem == prefix or f.stem.startswith(prefix + "_")]
        assert files, "%s names %s, which is no test file" % (node.name, named)
        assert any(gate_cases(f) for f in files), "%s names %s, which runs only in make test-full" % (
            node.name, named)
    if not re.search(r"/test_", reason):
        assert reason == "checked by make test-full only" or "proves" in reason, reason


@pytest.mark.parametrize("suite", ["faults_polardb", "lifecycle"])
def test_a_case_that_says_it_runs_last_is_the_last_file_of_its_suite(suite):
    """pytest runs a suite's files in name order (test_10 before test_1_): a case that leaves the lab
    changed for good says so in its docstring and must sort last."""
    files = sorted((TESTS / suite).glob("test_*.py"), key=lambda path: path.name)
    last = [path.name for path in files
            if (ast.get_docstring(ast.parse(path.read_text())) or "").startswith("Last case")]
    assert last == [files[-1].name], "%s must run last in tests/%s, after %s" % (last, suite, files[-1].name)
