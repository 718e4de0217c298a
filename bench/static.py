"""The static files as `make serve` serves them: collected and hashed into a directory of their
own, which STATIC_ROOT names, so pages rendered with DEBUG off (the benchmarks') find each
file in the manifest, as in production."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def collect_static() -> str:
    """Collect the static files into a temporary STATIC_ROOT (removed at exit) and point this
    process, and the servers it starts, at it. Call before Django's settings are read."""
    root = tempfile.mkdtemp(prefix="bench-static-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "0", "STATIC_ROOT": root},
        check=True,
    )
    os.environ["STATIC_ROOT"] = root
    return root
