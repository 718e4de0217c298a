"""scripts/mutation.py: a rerun knows which mutants it can skip, and the equivalents file names
only mutants that exist."""

import importlib.util
import os
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mutation", ROOT / "scripts" / "mutation.py")
mutation = importlib.util.module_from_spec(_spec)
sys.modules["mutation"] = mutation  # its dataclasses look their module up while being made
_spec.loader.exec_module(mutation)

SOURCE = """
LIMIT = 3


def kept(x):
    return x > LIMIT


def edited(x):
    return x < 2
"""


def by_key(source):
    return {m.key: m for m in mutation.mutants_of("example.py", source)}


def test_a_mutant_keeps_its_key_and_hash_when_lines_above_its_function_move():
    before = by_key(SOURCE)
    after = by_key("# a new comment\n\n" + SOURCE.replace("x < 2", "x < 3"))

    assert {k for k in before if k.startswith("kept")} == {k for k in after if k.startswith("kept")}
    kept = "kept | x > LIMIT  ->  x >= LIMIT | 0"
    assert (before[kept].line + 2, before[kept].scope_hash) == (
        after[kept].line,
        after[kept].scope_hash,
    )
    edited = "edited | x < 2  ->  x <= 2 | 0"
    assert edited not in after  # its change now reads "x < 3"
    assert (
        before["edited | return x < 2  ->  return None | 0"].scope_hash
        != after["edited | return x < 3  ->  return None | 0"].scope_hash
    )


def test_a_killed_mutant_is_skipped_until_its_function_changes_and_a_survivor_until_a_test_does():
    mutant = by_key(SOURCE)["kept | x > LIMIT  ->  x >= LIMIT | 0"]
    killed = {"killed": True, "scope_hash": mutant.scope_hash, "tests_hash": "old"}
    survived = {**killed, "killed": False}

    assert mutation.still_valid(killed, mutant, "new tests")
    assert mutation.still_valid(survived, mutant, "old")
    assert not mutation.still_valid(survived, mutant, "new tests")
    assert not mutation.still_valid({**killed, "scope_hash": "edited"}, mutant, "old")
    assert not mutation.still_valid(None, mutant, "old")


@pytest.mark.parametrize("table", ["equivalent", "postgres"])
def test_every_listed_mutant_exists_and_says_why(table):
    listed = tomllib.loads((ROOT / "scripts" / "mutation_equivalent.toml").read_text())[table]
    modules = {entry["module"] for entry in listed}
    present = {
        (module, m.scope, m.change)
        for module in modules
        for m in mutation.mutants_of(module, (ROOT / module).read_text())
    }

    assert modules <= set(mutation.MODULES)
    for entry in listed:
        assert (entry["module"], entry["function"], entry["change"]) in present, entry
        assert entry["why"].strip(), entry
        for occurrence in entry.get("occurrences", []):
            assert (entry["module"], entry["function"], entry["change"], occurrence) in {
                (module, m.scope, m.change, m.occurrence)
                for module in modules
                for m in mutation.mutants_of(module, (ROOT / module).read_text())
            }, entry


def test_an_entry_with_occurrences_leaves_out_only_those_and_one_without_every_one():
    source = "def twice(x):\n    return x[0] + x[0]\n"
    mutants = [m for m in mutation.mutants_of("example.py", source) if m.change == "0  ->  1"]
    assert [m.occurrence for m in mutants] == [0, 1]
    key = ("example.py", "twice", "0  ->  1")

    assert [m in mutation.Listed({key: {1}}) for m in mutants] == [False, True]
    assert [m in mutation.Listed({key: None}) for m in mutants] == [True, True]
    assert "occurrence 1" in str(mutants[1]) and "occurrence" not in str(mutants[0])


def test_the_modules_and_their_tests_exist():
    for module, tests in mutation.MODULES.items():
        assert (ROOT / module).is_file(), module
        assert all(os.path.exists(ROOT / test) for test in tests), module


def test_two_runs_at_once_keep_each_others_outcomes(tmp_path, monkeypatch):
    monkeypatch.setattr(mutation, "RESULTS", tmp_path / "results.json")
    outcome = {"killed": True, "scope_hash": "h", "tests_hash": "t", "line": 1}
    # each run loaded the file before the other wrote, and records only its own module
    sqlite_run = {"a.py": {"kept | x | 0": outcome}}
    postgres_run = {"b.py": {"edited | y | 0": {**outcome, "killed": False}}}

    mutation.save_results(sqlite_run, ["a.py"])
    mutation.save_results(postgres_run, ["b.py"])

    assert mutation.load_results() == {**sqlite_run, **postgres_run}
