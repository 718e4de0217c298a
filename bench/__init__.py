"""Benchmarks (not part of the test run): see bench/README.md."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"  # JSON of each run, git-ignored
