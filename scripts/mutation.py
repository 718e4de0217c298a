"""Mutation testing of the core modules: does the suite notice when the code is subtly wrong?

Each mutant is one small change to one module (a comparison flipped, `and` for `or`, `True` for
`False`, a number off by one, a return value replaced by None, a constant keyword argument such
as `skip_locked=True` dropped, a condition dropped from `filter(...)`/`exclude(...)`, a `not`
removed). Each is applied to a copy of the repository in a temporary directory, the test files
that cover the module run against it (`-x`, in order), and a mutant the tests let pass is
printed with its place and change. The working tree is never written: the copy is deleted at
the end, Ctrl-C included.

Why a script of our own: mutmut skips functions under a decorator, and the core of this project
is `@transaction.atomic` services; cosmic-ray handles decorators but rewrites the source files
in place (other processes importing the shared tree would see mutants) and has no operator that
drops a keyword argument or a filter condition, the mistakes that matter most here (a lost
`skip_locked=True`, a query that no longer filters); mutatest is no longer maintained.

    make mutation                                   # every module, SQLite, only what changed
    .venv/bin/python scripts/mutation.py --all --jobs 2              # every mutant again
    .venv/bin/python scripts/mutation.py --module warmup/domain/policy.py --limit 40 --jobs 2
    DATABASE_URL=postgresql://... make mutation     # the PostgreSQL-only tests count too
    DATABASE_URL=postgresql://... .venv/bin/python scripts/mutation.py --postgres-only
                                                    # only the mutants SQLite cannot tell

Outcomes are kept in .mutation/results.json: a rerun tries only the mutants whose function
changed, and the survivors when a covering test changed (see `still_valid`). Mutants listed in
scripts/mutation_equivalent.toml are left out, with why.

By default the committed HEAD is mutated (half-done work in the tree cannot fail the baseline);
`--working-tree` takes the files as they are. On PostgreSQL each run makes its test database
afresh (`--create-db`) and one job runs at a time (the jobs would share its name).
"""

from __future__ import annotations

import argparse
import ast
import fcntl
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / ".mutation" / "results.json"  # gitignored: each developer's own past runs
EQUIVALENTS = ROOT / "scripts" / "mutation_equivalent.toml"  # committed: mutants no test can kill

# Each core module and the test files that cover it, the fastest and most direct first (-x
# stops at the first failure, so a mutant is usually killed by the first file).
MODULES: dict[str, list[str]] = {
    "warmup/domain/policy.py": [
        "tests/warmup/domain/test_policy.py",
        "tests/warmup/test_template_overrides.py",
        "tests/warmup/test_template_bounds.py",
    ],
    "warmup/lifecycle/chain.py": [
        "tests/warmup/lifecycle/test_chain.py",
        "tests/warmup/selectors/test_integrity.py",
    ],
    "warmup/services/tick.py": [
        "tests/warmup/commands/test_warmup_tick.py",
        "tests/warmup/services/test_scheduler_isolation.py",
        "tests/warmup/services/test_leases_and_escalation.py",
    ],
    "warmup/lifecycle/state.py": [
        "tests/warmup/lifecycle/test_state.py",
        "tests/warmup/lifecycle/test_account_state.py",
        "tests/warmup/test_constraints.py",
        "tests/warmup/test_template_bounds.py",  # a plan step's floors, read by the moves
        "tests/config/test_logging.py",  # each move's log line
        "tests/warmup/services",
    ],
    "warmup/services/bot_work.py": [
        "tests/warmup/services",
        "tests/warmup/api/test_bot_api.py",
        "tests/warmup/lifecycle/test_state.py",
    ],
    "warmup/services/progression.py": [
        "tests/warmup/services/test_plan_progress.py",
        "tests/warmup/services/test_content_assignment.py",
        "tests/warmup/commands/test_warmup_tick.py",
        "tests/warmup/services/test_leases_and_escalation.py",
        "tests/warmup/services/test_scheduler_isolation.py",
        "tests/warmup/services/test_tick_cost.py",
        "tests/warmup/test_template_bounds.py",
        "tests/warmup/services/test_lock_waits.py",  # these three count on PostgreSQL only
        "tests/warmup/services/test_concurrency.py",
        "tests/reliability/test_faults.py",
    ],
    "warmup/services/review.py": [
        "tests/warmup/services/test_review.py",
        "tests/warmup/services/test_leases_and_escalation.py",
        "tests/reviews/api/test_review_api.py",
        "tests/reviews/admin/test_queue.py",
        "tests/warmup/services/test_lock_waits.py",  # these two count on PostgreSQL only
        "tests/warmup/services/test_concurrency.py",
    ],
    "warmup/services/resolutions.py": [
        "tests/warmup/services/test_resolutions.py",
        "tests/reviews/test_resolution_edges.py",
        "tests/reviews/commands/test_resolve_reviews.py",
        "tests/warmup/services/test_lock_waits.py",  # these two count on PostgreSQL only
        "tests/warmup/services/test_concurrency.py",
    ],
}

COMPARISONS = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
QUERY_FILTERS = {"filter", "exclude"}


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    change: str
    source: str  # the whole mutated module
    scope: str = "<module>"  # the innermost function (or top-level statement) it changes
    scope_hash: str = ""  # a hash of that function's source, decorators included
    occurrence: int = 0  # how many mutants before it in the same scope make the same change

    def __str__(self) -> str:
        again = f", occurrence {self.occurrence}" if self.occurrence else ""
        return f"{self.path}:{self.line}: {self.change}  [in {self.scope}{again}]"

    @property
    def key(self) -> str:
        """Its name in the results file: unchanged when lines above its function move."""
        return f"{self.scope} | {self.change} | {self.occurrence}"


# --- Making mutants ----------------------------------------------------------------------------


def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    return isinstance(node, ast.Tuple) and all(_is_literal(item) for item in node.elts)


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Ids of nodes never mutated: annotations, docstrings, f-string parts."""
    skipped: set[int] = set()

    def skip(node):
        if node is not None:
            skipped.update(id(inner) for inner in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign):
            skip(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            skip(node.returns)
        elif isinstance(node, ast.JoinedStr):
            skip(node)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            if node.body and isinstance(node.body[0], ast.Expr):
                skip(node.body[0])
    return skipped


def _variants(node: ast.AST) -> Iterator[tuple[ast.AST, ast.AST, str]]:
    """(node to replace, its replacement, what changed) for every mutation of `node`."""
    if isinstance(node, ast.Compare):
        for index, op in enumerate(node.ops):
            swapped = COMPARISONS.get(type(op))
            if swapped:
                ops = [*node.ops[:index], swapped(), *node.ops[index + 1 :]]
                new = ast.Compare(left=node.left, ops=ops, comparators=node.comparators)
                yield node, new, f"{ast.unparse(node)}  ->  {ast.unparse(new)}"
    elif isinstance(node, ast.BoolOp):
        flipped = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        new = ast.BoolOp(op=flipped, values=node.values)
        yield node, new, f"{ast.unparse(node)}  ->  {ast.unparse(new)}"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield node, node.operand, f"{ast.unparse(node)}  ->  {ast.unparse(node.operand)}"
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield node, ast.Constant(not node.value), f"{node.value}  ->  {not node.value}"
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        for delta in (1, -1):
            new = ast.Constant(node.value + delta)
            yield node, new, f"{node.value!r}  ->  {new.value!r}"
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            change = f"return {ast.unparse(node.value)}  ->  return None"
            yield node.value, ast.Constant(None), change
    elif isinstance(node, ast.Call):
        yield from _call_variants(node)


def _call_variants(node: ast.Call) -> Iterator[tuple[ast.AST, ast.AST, str]]:
    name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
    for index, keyword in enumerate(node.keywords):
        dropped = keyword.arg is not None and (_is_literal(keyword.value) or name in QUERY_FILTERS)
        if dropped:
            keywords = node.keywords[:index] + node.keywords[index + 1 :]
            new = ast.Call(func=node.func, args=node.args, keywords=keywords)
            change = f"drop {keyword.arg}={ast.unparse(keyword.value)} from {name or 'call'}()"
            yield node, new, change
    if name in QUERY_FILTERS:
        for index, arg in enumerate(node.args):
            args = node.args[:index] + node.args[index + 1 :]
            new = ast.Call(func=node.func, args=args, keywords=node.keywords)
            yield node, new, f"drop {ast.unparse(arg)} from {name}()"


def _offset(lines: list[str], line: int, col: int) -> int:
    """Character offset of (1-based line, UTF-8 byte column) in the joined source."""
    before = sum(len(text) for text in lines[: line - 1])
    return before + len(lines[line - 1].encode()[:col].decode())


def _scopes(tree: ast.Module, lines: list[str]) -> dict[int, tuple[str, str]]:
    """Node id -> (qualified name, source hash) of the innermost function holding the node.

    Outside any function, the scope is the top-level statement (a constant, a class body line)."""
    scopes: dict[int, tuple[str, str]] = {}

    def segment_hash(node: ast.stmt) -> str:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        text = "".join(lines[first - 1 : node.end_lineno])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def visit(node: ast.AST, scope: tuple[str, str], prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner, inner_prefix = scope, prefix
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                inner, inner_prefix = (name, segment_hash(child)), f"{name}."
            elif isinstance(node, ast.Module) and isinstance(child, ast.stmt):
                inner = (f"<module line {child.lineno}>", segment_hash(child))
                if isinstance(child, ast.Assign | ast.AnnAssign):
                    targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                    inner = (f"<{', '.join(ast.unparse(t) for t in targets)}>", inner[1])
            scopes[id(child)] = inner
            visit(child, inner, inner_prefix)

    visit(tree, ("<module>", ""), "")
    return scopes


def mutants_of(path: str, source: str) -> list[Mutant]:
    """Every mutant of one module, each a whole source text that parses and differs."""
    tree = ast.parse(source)
    skipped = _skipped_nodes(tree)
    scopes = _scopes(tree, source.splitlines(keepends=True))
    original = ast.dump(tree)
    lines = source.splitlines(keepends=True)
    found: list[Mutant] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        for target, new, change in _variants(node):
            start = _offset(lines, target.lineno, target.col_offset)
            end = _offset(lines, target.end_lineno, target.end_col_offset)
            mutated = f"{source[:start]}({ast.unparse(new)}){source[end:]}"
            try:
                if ast.dump(ast.parse(mutated)) == original:
                    continue
            except SyntaxError:
                continue
            scope, scope_hash = scopes.get(id(target), ("<module>", ""))
            found.append(
                Mutant(
                    path=path, line=target.lineno, change=change, source=mutated,
                    scope=scope, scope_hash=scope_hash,
                )
            )  # fmt: skip
    found.sort(key=lambda mutant: (mutant.line, mutant.change))
    seen: dict[tuple[str, str], int] = {}
    numbered = []
    for mutant in found:
        count = seen.get((mutant.scope, mutant.change), 0)
        seen[(mutant.scope, mutant.change)] = count + 1
        numbered.append(replace(mutant, occurrence=count))
    return numbered


# --- What earlier runs found ---------------------------------------------------------------------


def tests_hash(copy: Path, tests: list[str]) -> str:
    """A hash of the test files that cover a module and the shared helpers under tests/."""
    files: list[Path] = []
    for name in tests:
        path = copy / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    files += sorted((copy / "tests").glob("*.py"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(copy)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def load_results() -> dict[str, dict[str, dict]]:
    """{module: {mutant key: {"killed", "scope_hash", "tests_hash", "line"}}} of earlier runs."""
    try:
        return json.loads(RESULTS.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def save_results(results: dict[str, dict[str, dict]], modules) -> None:
    """Write the outcomes of `modules`, keeping every other module's as the file has them now:
    two runs at once (say one on SQLite, one with DATABASE_URL) each write only their own
    modules, under a lock, so neither loses the other's outcomes."""
    RESULTS.parent.mkdir(exist_ok=True)
    with (RESULTS.parent / "results.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = {**load_results(), **{module: results[module] for module in modules}}
        temporary = RESULTS.with_suffix(".tmp")
        temporary.write_text(json.dumps(merged, indent=1, sort_keys=True))
        temporary.replace(RESULTS)


def still_valid(earlier: dict | None, mutant: Mutant, tests: str) -> bool:
    """Whether an earlier outcome still holds: its function is unchanged, and for a survivor
    the covering tests too (a new test can kill a survivor; a killed mutant stays killed unless
    its function changes, or tests are removed or weakened: then run `--all`)."""
    if earlier is None or earlier["scope_hash"] != mutant.scope_hash:
        return False
    return earlier["killed"] or earlier["tests_hash"] == tests


class Listed(dict):
    """The mutants listed in scripts/mutation_equivalent.toml: (module, function, change) ->
    the occurrences named (None: every mutant making that change in that function). An entry
    names a function and a change, not a line (lines move); where one function makes the same
    change in several places and only some are equivalent, `occurrences = [1, 2]` names which
    (0 is the function's first, in the order of its lines; `--list` prints the others')."""

    def __contains__(self, mutant) -> bool:
        if not isinstance(mutant, Mutant):
            return super().__contains__(mutant)
        key = (mutant.path, mutant.scope, mutant.change)
        if not super().__contains__(key):
            return False
        occurrences = self[key]
        return occurrences is None or mutant.occurrence in occurrences

    def __or__(self, other: Listed) -> Listed:
        return Listed({**self, **other})


def load_listed(kind: str) -> Listed:
    """The mutants listed as `kind` ("equivalent" or "postgres") in the toml file."""
    with EQUIVALENTS.open("rb") as file:
        entries = tomllib.load(file).get(kind, [])
    return Listed(
        {
            (e["module"], e["function"], e["change"]): (
                set(e["occurrences"]) if "occurrences" in e else None
            )
            for e in entries
        }
    )


def load_equivalents() -> Listed:
    """The mutants no test can tell from the code; on SQLite also the `[[postgres]]` ones,
    which only the PostgreSQL-only tests can (a lock's `skip_locked=True`: SQLite has no row
    locks), tried when DATABASE_URL is set."""
    listed = load_listed("equivalent")
    if not os.environ.get("DATABASE_URL"):
        listed |= load_listed("postgres")
    return listed


def spread(mutants: list[Mutant], limit: int | None) -> list[Mutant]:
    """At most `limit` mutants spread evenly over the module (all of them without a limit)."""
    if not limit or len(mutants) <= limit:
        return mutants
    step = len(mutants) / limit
    return [mutants[int(index * step)] for index in range(limit)]


# --- Running them ------------------------------------------------------------------------------


def make_copy(*, working_tree: bool) -> Path:
    """A throwaway copy of the repository: the committed HEAD, or the tree's files as they are."""
    copy = Path(tempfile.mkdtemp(prefix="warmup-mutation-"))
    if working_tree:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout.decode().split("\0")  # fmt: skip
        for name in filter(None, listed):
            if (ROOT / name).is_file():
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, copy / name)
    else:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(copy)], input=archive, check=True)
    return copy


def run_tests(copy: Path, tests: list[str], *, timeout: float | None) -> tuple[bool, float]:
    """(passed, seconds) for `tests` in `copy`; a timeout counts as a failure (a killed mutant)."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly"]
    command += ["-p", "no:cacheprovider", "--no-header", "--tb=no", *tests]
    if os.environ.get("DATABASE_URL"):
        # A test database of its own each run: a kept one (`--reuse-db`) loses the migrations'
        # rows (the default plan) to the first run's transactional tests, and every run after
        # it would fail unmutated.
        command.append("--create-db")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # never a stale .pyc of another mutant
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, cwd=copy, env=env, timeout=timeout, capture_output=True, check=False
        )
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - started
    return result.returncode == 0, time.monotonic() - started


def try_mutant(copy: Path, mutant: Mutant, tests: list[str], timeout: float) -> bool:
    """Whether the tests kill `mutant`; the module is put back however the run ends."""
    target = copy / mutant.path
    original = target.read_text()
    target.write_text(mutant.source)
    try:
        passed, _ = run_tests(copy, tests, timeout=timeout)
    finally:
        target.write_text(original)
    return not passed


def try_all(copies: list[Path], mutants: list[Mutant], tests: list[str], timeout: float):
    """(mutant, killed) for each mutant, in order; one mutant per copy at a time."""
    free: queue.SimpleQueue[Path] = queue.SimpleQueue()
    for copy in copies:
        free.put(copy)

    def attempt(mutant: Mutant) -> bool:
        copy = free.get()
        try:
            return try_mutant(copy, mutant, tests, timeout)
        finally:
            free.put(copy)

    with ThreadPoolExecutor(max_workers=len(copies)) as pool:
        yield from zip(mutants, pool.map(attempt, mutants), strict=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), dest="modules")
    parser.add_argument("--limit", type=int, help="at most N mutants per module, spread evenly")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tried at once (SQLite only)")
    parser.add_argument("--all", action="store_true", help="try every mutant, ignoring past runs")
    parser.add_argument("--working-tree", action="store_true", help="mutate uncommitted files")
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    parser.add_argument(
        "--postgres-only",
        action="store_true",
        help="only the mutants listed as [[postgres]] (with DATABASE_URL)",
    )
    options = parser.parse_args(argv)
    if options.limit is not None and options.limit < 1 or options.jobs < 1:
        parser.error("--limit and --jobs must be at least 1")
    if options.postgres_only and not os.environ.get("DATABASE_URL"):
        parser.error("--postgres-only needs DATABASE_URL: SQLite cannot tell those mutants")
    jobs = 1 if os.environ.get("DATABASE_URL") else options.jobs
    modules = options.modules or list(MODULES)
    equivalents = load_equivalents()
    results = load_results()

    copies: list[Path] = []
    try:
        copies.append(make_copy(working_tree=options.working_tree))
        every = {path: mutants_of(path, (copies[0] / path).read_text()) for path in modules}
        if options.list:
            for mutant in (m for mutants in every.values() for m in mutants):
                earlier = results.get(mutant.path, {}).get(mutant.key)
                known = mutant in equivalents
                state = "equivalent" if known else "" if earlier is None else (
                    "killed" if earlier["killed"] else "SURVIVED"
                )  # fmt: skip
                print(f"{mutant}  {state}".rstrip())
            return 0
        _report_stale_equivalents(equivalents, every)
        scores = []
        for path, mutants in every.items():
            tests = MODULES[path]
            tested = tests_hash(copies[0], tests)
            earlier = {m.key: results.get(path, {}).get(m.key) for m in mutants}
            results[path] = {key: entry for key, entry in earlier.items() if entry}
            equivalent = [m for m in mutants if m in equivalents]
            candidates = [m for m in mutants if m not in equivalent]
            if options.postgres_only:
                postgres = load_listed("postgres")
                candidates = [m for m in candidates if m in postgres]
            asked, scored = len(candidates), list(candidates)
            if not options.all:
                candidates = [m for m in candidates if not still_valid(earlier[m.key], m, tested)]
            to_try = spread(candidates, options.limit)
            which = "PostgreSQL-only mutants" if options.postgres_only else "mutants"
            print(
                f"{path}: {len(mutants)} mutants, {len(equivalent)} left out (equivalent or "
                f"PostgreSQL-only), {len(to_try)} of {asked} {which} to try "
                f"({asked - len(candidates)} unchanged since a past run)",
                flush=True,
            )
            if to_try:
                working_tree = options.working_tree
                if not _try_module(
                    path, to_try, tests, tested, copies, jobs, results, working_tree=working_tree
                ):
                    return 1
            if options.postgres_only:  # the score of the PostgreSQL-only mutants alone
                scores.append(_score(path, scored, [], results[path], tested))
            else:
                scores.append(_score(path, mutants, equivalent, results[path], tested))
        print("\nScore (killed / non-equivalent mutants):")
        for line in scores:
            print(line)
        return 0
    except KeyboardInterrupt:
        print("\nInterrupted; the working tree was never touched; finished mutants are kept.")
        return 130
    finally:
        for copy in copies:
            shutil.rmtree(copy, ignore_errors=True)


def _try_module(path, mutants, tests, tested, copies, jobs, results, *, working_tree) -> bool:
    """Try `mutants` of one module, recording each outcome as it comes; False if the unmutated
    tests already fail."""
    while len(copies) < min(jobs, len(mutants)):
        copies.append(make_copy(working_tree=working_tree))
    passed, took = run_tests(copies[0], tests, timeout=None)
    if not passed:
        print(f"{path}: its tests fail before any mutation; fix them first.")
        return False
    timeout = max(60.0, 3 * took)
    print(f"  tests take {took:.0f} s unmutated", flush=True)
    for done, (mutant, killed) in enumerate(try_all(copies, mutants, tests, timeout), 1):
        results[path][mutant.key] = {
            "killed": killed, "scope_hash": mutant.scope_hash, "tests_hash": tested,
            "line": mutant.line,
        }  # fmt: skip
        save_results(results, [path])
        if not killed:
            print(f"  SURVIVED {mutant}", flush=True)
        elif done % 10 == 0:
            print(f"  {done}/{len(mutants)} tried", flush=True)
    return True


def _score(path, mutants, equivalent, recorded, tested) -> str:
    """One module's line of the score, with its survivors and its mutants never tried."""
    counted = [m for m in mutants if m not in equivalent]
    outcome = {m.key: recorded.get(m.key) for m in counted}
    killed = sum(
        1 for m in counted if still_valid(outcome[m.key], m, tested) and outcome[m.key]["killed"]
    )
    survivors = [m for m in counted if outcome[m.key] and not outcome[m.key]["killed"]
                 and still_valid(outcome[m.key], m, tested)]  # fmt: skip
    untried = len(counted) - killed - len(survivors)
    share = 100 * killed / max(len(counted), 1)
    line = f"  {path}: {killed}/{len(counted)} killed ({share:.1f} %)"
    line += f", {len(equivalent)} left out as listed in {EQUIVALENTS.name}"
    if untried:
        line += f", {untried} not tried (or changed) since"
    return "\n".join([line, *(f"    survived: {m}" for m in survivors)])


def _report_stale_equivalents(equivalents, every) -> None:
    present = {(m.path, m.scope, m.change) for mutants in every.values() for m in mutants}
    for module, function, change in equivalents:
        if module in every and (module, function, change) not in present:
            print(f"note: {EQUIVALENTS.name} lists a mutant that no longer exists: "
                  f"{module} {function}: {change}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
