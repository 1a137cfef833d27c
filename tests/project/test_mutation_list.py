"""The mutation list of ``benchmarks/mutation.py`` fits today's source, and its committed report is of this list.

``make mutation`` takes minutes and is not part of ``make test``; these checks take a second: every mutant
still finds the text it replaces (once, in the function it names) and still parses, every explained survivor
names a mutant and says whether it is equivalent or accepted, and ``benchmarks/results/mutation.json`` holds
a passing run of exactly these mutants (a mutant added or removed without running ``make mutation`` fails
here). The runner itself is checked on one mutant of a toy file, without pytest.
"""
from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from tests.conftest import REPO_ROOT

REPO = REPO_ROOT


@pytest.fixture(scope="module")
def mutation():
    spec = importlib.util.spec_from_file_location("mutation_runner", REPO / "benchmarks" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_every_mutant_applies_to_todays_source(mutation):
    assert mutation.check_list() == []


def test_the_committed_report_is_a_passing_run_of_this_list(mutation):
    report = json.loads(mutation.REPORT.read_text())
    assert [row["id"] for row in report["mutants"]] == [m.id for m in mutation.MUTANTS], \
        "the mutant list changed since the report was written: run `make mutation`"
    summary = report["summary"]
    assert report["problems"] == [] and summary["score"] >= mutation.MIN_SCORE
    survivors = {row["id"]: row["survived"] for row in report["mutants"] if "survived" in row}
    assert survivors == mutation.SURVIVORS, "SURVIVORS changed since the report was written: run `make mutation`"
    assert summary["mutants"] == len(report["mutants"]) == summary["killed"] + summary["survived"]
    equivalent = sum(reason.startswith("equivalent:") for reason in survivors.values())
    assert summary["equivalent"] == equivalent
    assert summary["score"] == round(summary["killed"] / (summary["mutants"] - equivalent), 4)


def test_a_mutant_is_found_once_in_its_function_and_its_line_reported(mutation):
    source = "def f(x):\n    return x + 1\n\n\ndef g(x):\n    return x + 1\n"
    mutant = mutation.Mutant("toy.plus", "toy.py", "g", "x + 1", "x - 1", "minus", tests=())
    mutated, line = mutation.mutate(mutant, source)
    assert line == 6 and mutated == source.replace("return x + 1\n", "return x - 1\n").replace(
        "def f(x):\n    return x - 1", "def f(x):\n    return x + 1")
    with pytest.raises(LookupError, match="occurs 2 times"):
        mutation.mutate(mutation.Mutant("toy.module", "toy.py", None, "x + 1", "x - 1", "", tests=()), source)
    with pytest.raises(LookupError, match="no h"):
        mutation.mutate(mutation.Mutant("toy.missing", "toy.py", "h", "x", "y", "", tests=()), source)
    with pytest.raises(SyntaxError, match="does not parse"):
        mutation.mutate(mutation.Mutant("toy.broken", "toy.py", "g", "x + 1", "x +", "", tests=()), source)


def test_a_survivor_without_a_reason_and_a_stale_reason_fail_the_run(mutation, monkeypatch):
    monkeypatch.setattr(mutation, "SURVIVORS", {"b": "equivalent: same", "c": "accepted: tolerated"})
    rows = [{"id": "a", "file": "x.py", "survived": ""}, {"id": "b", "file": "x.py", "survived": "equivalent: same"},
            {"id": "c", "file": "x.py", "killed_by": "tests/test_x.py::test_c"}] + \
           [{"id": f"k{i}", "file": "x.py", "killed_by": "t"} for i in range(17)]
    report = mutation.summarise(rows, seconds=1.0, jobs=1)
    summary = report["summary"]
    # 18 killed of 20, one equivalent: 18 / 19
    assert (summary["killed"], summary["survived"], summary["equivalent"], summary["accepted"]) == (18, 2, 1, 0)
    assert summary["score"] == round(18 / 19, 4)
    assert any("a survived with no reason" in p for p in report["problems"])
    assert any("c is killed" in p for p in report["problems"])
