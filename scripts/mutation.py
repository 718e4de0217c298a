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

    make mutation                                   # every module, SQLite
    .venv/bin/python scripts/mutation.py --module warmup/domain/policy.py --limit 40 --jobs 2
    DATABASE_URL=postgresql://... make mutation     # the PostgreSQL-only tests count too

By default the committed HEAD is mutated (half-done work in the tree cannot fail the baseline);
`--working-tree` takes the files as they are. On PostgreSQL the test database is kept between
runs (`--reuse-db`) and one job runs at a time (the jobs would share its name).
"""

from __future__ import annotations

import argparse
import ast
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each core module and the test files that cover it, the fastest and most direct first (-x
# stops at the first failure, so a mutant is usually killed by the first file).
MODULES: dict[str, list[str]] = {
    "warmup/lifecycle/state.py": [
        "tests/warmup/lifecycle/test_state.py",
        "tests/warmup/lifecycle/test_account_state.py",
        "tests/warmup/test_constraints.py",
        "tests/warmup/services",
    ],
    "warmup/domain/policy.py": [
        "tests/warmup/domain/test_policy.py",
        "tests/warmup/test_template_overrides.py",
        "tests/warmup/test_template_bounds.py",
    ],
    "warmup/services/bot_work.py": [
        "tests/warmup/services",
        "tests/warmup/api/test_bot_api.py",
        "tests/warmup/lifecycle/test_state.py",
    ],
    "warmup/services/progression.py": [
        "tests/warmup/services",
        "tests/warmup/commands/test_warmup_tick.py",
    ],
    "warmup/services/review.py": [
        "tests/warmup/services/test_review.py",
        "tests/reviews/api/test_review_api.py",
        "tests/reviews/admin/test_queue.py",
    ],
    "warmup/services/resolutions.py": [
        "tests/warmup/services/test_resolutions.py",
        "tests/reviews/test_resolution_edges.py",
        "tests/reviews/commands/test_resolve_reviews.py",
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

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.change}"


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


def mutants_of(path: str, source: str) -> list[Mutant]:
    """Every mutant of one module, each a whole source text that parses and differs."""
    tree = ast.parse(source)
    skipped = _skipped_nodes(tree)
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
            found.append(Mutant(path=path, line=target.lineno, change=change, source=mutated))
    found.sort(key=lambda mutant: mutant.line)
    return found


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
        command.append("--reuse-db")
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
    parser.add_argument("--working-tree", action="store_true", help="mutate uncommitted files")
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    options = parser.parse_args(argv)
    if options.limit is not None and options.limit < 1 or options.jobs < 1:
        parser.error("--limit and --jobs must be at least 1")
    jobs = 1 if os.environ.get("DATABASE_URL") else options.jobs
    modules = options.modules or list(MODULES)

    copies: list[Path] = []
    try:
        copies.append(make_copy(working_tree=options.working_tree))
        plan = {
            path: spread(mutants_of(path, (copies[0] / path).read_text()), options.limit)
            for path in modules
        }
        if options.list:
            for mutant in (m for mutants in plan.values() for m in mutants):
                print(mutant)
            return 0
        while len(copies) < jobs:
            copies.append(make_copy(working_tree=options.working_tree))
        survivors, total = [], 0
        for path, mutants in plan.items():
            tests = MODULES[path]
            passed, took = run_tests(copies[0], tests, timeout=None)
            if not passed:
                print(f"{path}: its tests fail before any mutation; fix them first.")
                return 1
            timeout = max(60.0, 3 * took)
            print(f"{path}: {len(mutants)} mutants; tests take {took:.0f} s unmutated", flush=True)
            for mutant, killed in try_all(copies, mutants, tests, timeout):
                total += 1
                if not killed:
                    survivors.append(mutant)
                    print(f"  SURVIVED {mutant}", flush=True)
        killed = total - len(survivors)
        print(f"\nScore: {killed}/{total} mutants killed ({100 * killed / max(total, 1):.1f} %).")
        for mutant in survivors:
            print(f"  survived: {mutant}")
        return 0
    except KeyboardInterrupt:
        print("\nInterrupted; the working tree was never touched.")
        return 130
    finally:
        for copy in copies:
            shutil.rmtree(copy, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
