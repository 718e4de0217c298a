"""A complete bot for the warmup bot API: claim, keep the lease, do the work, report.

    pip install requests
    WARMUP_URL=http://127.0.0.1:8000 WARMUP_TOKEN=... python example_bot.py

Replace `do_phase` with what your bot really does on the platform. Everything else is what any
bot needs: waiting when nothing is ready, heartbeats while it works, a failure category for
each way it can fail, and reports delivered even when the network or the server hiccups.
"""

from __future__ import annotations

import os
import threading
import time

import requests

URL = os.environ.get("WARMUP_URL", "http://127.0.0.1:8000").rstrip("/") + "/api/v1/bot"
TOKEN = os.environ["WARMUP_TOKEN"]  # printed once by `manage.py create_bot NAME`
IDLE_WAIT_MAX = 30.0  # seconds between claims while nothing is ready (doubling from 1 s)
REPORT_TRIES = 8  # a report is retried this many times before the bot gives up on it


class PhaseFailed(Exception):
    """Raised by `do_phase`: the category tells the server what to do next."""

    def __init__(
        self,
        category: str,
        reason: str,
        *,
        retryable: bool = True,
        fingerprint: str = "",
        details: dict | None = None,
    ):
        super().__init__(reason)
        self.category, self.reason, self.retryable = category, reason, retryable
        self.fingerprint, self.details = fingerprint, details or {}


def do_phase(phase: dict) -> dict:
    """The work itself; returns the result to store, or raises PhaseFailed."""
    if phase["phase_type"] == "profile_bio" and not phase["content"]:
        raise PhaseFailed("bot_error", "no bio text in the phase's content", retryable=False)
    time.sleep(1)  # log in, set the bio, upload the avatar, post...
    return {"done_at": time.time()}


session = requests.Session()
session.headers["Authorization"] = f"Bearer {TOKEN}"


def call(path: str, body: dict) -> requests.Response:
    """POST, waiting out rate limits (429) and a busy database (503) with Retry-After, and
    retrying when the server cannot be reached. A report sent twice is answered once: the
    server recognises the same lease token and changes nothing the second time."""
    for attempt in range(REPORT_TRIES):
        try:
            answer = session.post(f"{URL}{path}", json=body, timeout=30)
        except requests.ConnectionError:
            time.sleep(min(2**attempt, 30))
            continue
        if answer.status_code in (429, 503):
            time.sleep(float(answer.headers.get("Retry-After", "1")))
            continue
        return answer
    raise RuntimeError(f"{path}: no answer after {REPORT_TRIES} tries")


def keep_lease(phase_id: int, lease: str, every: float, stop: threading.Event) -> None:
    """Heartbeats while the work runs; each extends the lease by the step's lease duration."""
    while not stop.wait(every):
        answer = call(f"/phases/{phase_id}/heartbeat/", {"lease_token": lease})
        if answer.status_code == 409:  # lease_lost: a reviewer held it, or it expired
            return


def work_one(phase: dict) -> None:
    lease = phase["lease_token"]
    stop = threading.Event()
    # Heartbeat well inside the lease (15 minutes unless the plan step says otherwise).
    threading.Thread(target=keep_lease, args=(phase["id"], lease, 60.0, stop), daemon=True).start()
    try:
        result = do_phase(phase)
        report = ("complete", {"lease_token": lease, "result": result})
    except PhaseFailed as failure:
        report = (
            "fail",
            {
                "lease_token": lease,
                "category": failure.category,
                "reason": failure.reason,
                "details": failure.details,
                "retryable": failure.retryable,
                "fingerprint": failure.fingerprint,
            },
        )
    except Exception as error:  # a bug of the bot's own: say so, the server retries it
        report = ("fail", {"lease_token": lease, "category": "bot_error", "reason": repr(error)})
    finally:
        stop.set()
    answer = call(f"/phases/{phase['id']}/{report[0]}/", report[1])
    if answer.status_code == 409:
        # lease_lost: the phase is no longer ours (expired, held or resolved by a person);
        # nothing was changed, and whatever we did will be looked at by someone. Move on.
        print(f"phase {phase['id']}: lease lost, now {answer.json().get('current_status')}")
    elif answer.ok:
        print(f"phase {phase['id']}: {report[0]} -> {answer.json().get('outcome', 'completed')}")
    else:
        print(f"phase {phase['id']}: {answer.status_code} {answer.text[:200]}")


def main() -> None:
    idle = 1.0
    while True:
        answer = call("/phases/claim/", {})
        if answer.status_code == 204:  # nothing ready (or this bot's scope has a breaker open)
            time.sleep(idle)
            idle = min(idle * 2, IDLE_WAIT_MAX)
            continue
        answer.raise_for_status()  # 401/403: a wrong or deactivated token; stop here
        idle = 1.0
        work_one(answer.json())


if __name__ == "__main__":
    main()
