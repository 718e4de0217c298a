"""Run the demo: the web server, the scheduler loop and (when available) simulated bots, as
child processes, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import BaseCommand, CommandError

from tools.demo import FAST_PLAN
from tools.demo.fixtures import ensure_fast_plan

TICK_INTERVAL = 5
TRICKLE_EVERY = 60  # seconds between the demo's batches of fresh accounts
OUTAGE_EVERY = 300  # seconds: the demo's proxy pool fails for the last 90 s of every five minutes
OUTAGE_LENGTH = 90
SIMULATION_DURATION = 7 * 24 * 3600  # "until stopped": a week
STOP_TIMEOUT = 10  # seconds a child gets to exit after SIGTERM before it is killed
READY_TIMEOUT = 30

PORT_IN_USE = (
    "{host}:{port} is already in use (another demo or server?); choose another port with "
    "--port (make demo PORT=...)."
)


def child_commands(*, host: str, port: int, bots: int, commands=None) -> list[tuple[str, list]]:
    """(label, argv) of every child process to start, in order."""
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    children = [
        ("web server", [*manage, "runserver", f"{host}:{port}", "--noreload"]),
        ("scheduler", [*manage, "warmup_tick", "--loop", "--interval", str(TICK_INTERVAL)]),
        # Fresh accounts every so often, so the bots never run dry and the queue keeps moving.
        ("new accounts", [*manage, "demo_trickle", "--every", str(TRICKLE_EVERY)]),
    ]
    # Hook: simulated bots. `simulate_bots` is built separately; start it only once it exists.
    commands = get_commands() if commands is None else commands
    if bots > 0 and "simulate_bots" in commands:
        children.append(
            (
                "simulated bots",
                [
                    *manage,
                    "simulate_bots",
                    "--url",
                    f"http://{_client_host(host)}:{port}",
                    "--bots",
                    str(bots),
                    "--duration",
                    str(SIMULATION_DURATION),
                    # Only the fast plan's accounts: the scripted ones stay as seeded.
                    *("--plan", FAST_PLAN),
                    # Lively but mostly successful: a bot works ~1 s per phase, a quarter of
                    # the claims fail (filling the review queue), a few hang (lease expiry).
                    *("--think", "1", "--fail-rate", "0.25", "--hang-rate", "0.02"),
                    # A proxy outage now and then, so an incident forms and the breaker opens.
                    *("--outage-every", str(OUTAGE_EVERY), "--outage-length", str(OUTAGE_LENGTH)),
                    # The terminal is shared with the server's log: whole lines, not a
                    # rewritten one.
                    *("--progress-every", "10"),
                ],
            )
        )
    return children


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


DEMO_BREAKER = {
    "BREAKER_WINDOW_SECONDS": "60",
    "BREAKER_MIN_FAILURES": "3",
    "BREAKER_COOLDOWN_SECONDS": "60",
}


class Command(BaseCommand):
    help = (
        "Serve the demo: Django's development server, the scheduler loop and simulated bots "
        "(if the simulate_bots command is installed). Ctrl-C stops them all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--bots", type=int, default=3, metavar="N", help="Simulated bots to run (default 3)."
        )

    def handle(self, *args, host, port, bots, **options):
        if bots < 0:
            raise CommandError("--bots must be 0 or more.")
        if not _port_free(host, port):
            raise CommandError(PORT_IN_USE.format(host=host, port=port))
        # The plan the simulated bots work, even on a database seed_demo has not filled yet.
        ensure_fast_plan()
        stop = {"signal": None}

        def request_stop(signum, frame):
            stop["signal"] = signum

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        children: list[tuple[str, subprocess.Popen]] = []
        commands = child_commands(host=host, port=port, bots=bots)
        # Links in notifications point where this demo really serves.
        os.environ.setdefault("BASE_URL", f"http://{_client_host(host)}:{port}")
        # A demo's fleet is small (a few claims a minute per plan step): its proxy outage opens
        # the breaker after three failures of one kind within a minute, and it tries again a
        # minute later.
        for name, value in DEMO_BREAKER.items():
            os.environ.setdefault(name, value)
        try:
            # The web server and the scheduler first; the simulated bots once the server
            # answers, so they do not start with a burst of connection errors.
            for label, argv in commands[:2]:
                children.append((label, self._start(label, argv)))
            ready = self._wait_until_serving(host, port, children[0][1], stop)
            if ready:
                for label, argv in commands[2:]:
                    children.append((label, self._start(label, argv)))
                if not any(label == "simulated bots" for label, _ in commands):
                    self.stdout.write(
                        "No simulated bots: --bots 0, or the simulate_bots command is missing."
                    )
                self._announce(host, port)
            failed = self._watch(children, stop)
        finally:
            self._stop_all(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed:
            raise CommandError(f"The {failed[0]} exited with code {failed[1]}; stopped the demo.")
        self.stdout.write("Demo stopped.")

    def _start(self, label: str, argv: list[str]) -> subprocess.Popen:
        # Own session: a Ctrl-C in the terminal reaches only us, and we stop the children
        # ourselves, quietly (runserver prints a traceback on SIGINT).
        process = subprocess.Popen(argv, env=os.environ.copy(), start_new_session=True)
        self.stdout.write(f"Started the {label} (pid {process.pid}).")
        return process

    def _wait_until_serving(self, host, port, server, stop) -> bool:
        """True once the server accepts connections; False if it died or we were stopped."""
        deadline = time.monotonic() + READY_TIMEOUT
        while stop["signal"] is None and server.poll() is None:
            try:
                with socket.create_connection((_client_host(host), port), timeout=1):
                    return True
            except OSError:
                if time.monotonic() > deadline:
                    self.stderr.write(f"The web server is not answering after {READY_TIMEOUT} s.")
                    return True  # carry on; the operator sees the server's own output
                time.sleep(0.2)
        return False

    def _announce(self, host, port) -> None:
        url = f"http://{_client_host(host)}:{port}"
        self.stdout.write(
            self.style.SUCCESS(f"Demo running at {url}/ - log in at {url}/admin/") + "\n"
            "  as 'admin' with the password seed_demo --with-admin printed "
            "(or DEMO_ADMIN_PASSWORD).\n"
            + (
                f"  Escalation emails are written to {settings.EMAIL_FILE_PATH}/, a file each.\n"
                if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend")
                else ""
            )
            + "  Press Ctrl-C to stop."
        )

    def _watch(self, children, stop) -> tuple[str, int] | None:
        """Wait for a stop signal; return (label, code) if a child exits on its own first."""
        while stop["signal"] is None:
            for label, process in children:
                code = process.poll()
                if code is not None:
                    return label, code
            time.sleep(0.2)
        self.stdout.write(f"\nReceived {signal.Signals(stop['signal']).name}; stopping...")
        return None

    def _stop_all(self, children) -> None:
        # One at a time, newest first: the simulated bots deliver their last reports while the
        # server still answers, so no phase is left waiting for its lease to expire.
        deadline = time.monotonic() + STOP_TIMEOUT
        for label, process in reversed(children):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"The {label} did not stop within {STOP_TIMEOUT} s; killing it.")
                process.kill()
                process.wait()
