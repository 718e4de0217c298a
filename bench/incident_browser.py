"""An incident of 2,000 items resolved from the browser: Chromium (Debian's, through Playwright)
on the incident's confirmation page, served by gunicorn as `make serve` runs it, from the click
on "Resolve 2000 items" until the batch page that reports them has loaded.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.incident_browser [--items 2000] [--repeat 3]
        [--accounts 200000] [--reuse] [--smoke]

The browser's writes commit (the server is another process), so this runs on a fleet of its
own, `warmup_bench_browser` (--reuse keeps the one built before; each round uses up `--items`
items in review of accounts that may be resumed). Each round makes that many items one new
incident, measures its limit first, `resolve_reviews --action resume` over the same items in a
transaction rolled back (the set-based path, without a browser or HTTP), then resumes them from
the browser. Prints the medians, the ratio, and whether the issue's bound (5 s for 2,000 items)
held; writes bench/results/incident_browser.json.

With --smoke (`make bench-smoke`): a tiny fleet in `<DATABASE_URL's name>_bench_h_smoke`, one
round of a few items, nothing written, the database dropped; a failure exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("DB_STATEMENT_TIMEOUT", "0")
# Playwright's sync API runs an event loop in this thread; the rounds' own database calls are
# ordinary blocking ones, which Django would otherwise refuse there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

DATABASE = "warmup_bench_browser"
TARGET_S = 5.0  # the bound for 2,000 items, end to end in the browser
SMOKE_ITEMS = 20
PASSWORD = "bench-browser-pw-1"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.incident_browser", description=__doc__)
    parser.add_argument("--items", type=int, default=2_000, help="items in the incident")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--reuse", action="store_true", help="keep the fleet built before")
    parser.add_argument("--smoke", action="store_true", help="tiny fleet, one round, dropped")
    args = parser.parse_args(argv)
    if min(args.items, args.repeat, args.accounts) < 1:
        parser.error("--items, --repeat and --accounts must be >= 1")
    if args.smoke:
        args.items, args.repeat = SMOKE_ITEMS, 1
    return args


def main(argv=None) -> int:
    from bench.browser import unavailable
    from bench.hot_path import drop_smoke_fleet, open_own_fleet, smoke_accounts
    from bench.static import collect_static

    args = parse_args(argv)
    collect_static()  # as `make serve` does: DEBUG off serves the manifest's files
    why = unavailable()
    if why:
        print(f"bench.incident_browser: {why}", file=sys.stderr)
        return 2
    accounts = smoke_accounts(args.items * 10) if args.smoke else args.accounts
    opened = open_own_fleet(
        "bench.incident_browser",
        accounts=accounts,
        reuse=args.reuse,
        smoke=args.smoke,
        database=DATABASE,
    )
    if not opened:
        return 2
    try:
        return run(args)
    finally:
        if args.smoke:
            drop_smoke_fleet()


def one_incident(count: int, round_no: int) -> tuple[str, list[int]]:
    """`count` items of the queue whose accounts may be resumed, made one new incident."""
    from django.utils import timezone

    from bench.bulk_resolution import _selected
    from warmup.models import FailureSignature, WarmupPhase

    ids = _selected(count)
    if len(ids) < count:
        raise SystemExit(f"the fleet has {len(ids)} resumable items in review, {count} needed")
    key = secrets.token_hex(8)
    FailureSignature.objects.create(
        key=key,
        title=f"proxy_error on profile_bio: bench incident {round_no}",
        category="proxy_error",
        phase_type="profile_bio",
        first_seen_at=timezone.now(),
    )
    WarmupPhase.objects.filter(pk__in=ids).update(review_signature_id=key)
    return key, ids


def reviewer():
    from django.contrib.auth import get_user_model

    from reviews.permissions import reviewers_group

    user, _ = get_user_model().objects.get_or_create(
        username="bench-browser-reviewer", defaults={"is_staff": True}
    )
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(reviewers_group())
    return user


def in_browser(port: int, user, args) -> tuple[list[float], list[float], list[int]]:
    """Per round: the limit's seconds and the browser's, from the click on the confirmation's
    button to the batch page; and the ids the rounds resolved."""
    from playwright.sync_api import sync_playwright

    from bench.browser import ARGS, CHROMIUM
    from bench.bulk_resolution import _resolve

    limits, seconds, resolved = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context(base_url=f"http://127.0.0.1:{port}").new_page()
        page.set_default_timeout(120_000)
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        for round_no in range(args.repeat):
            key, ids = one_incident(args.items, round_no)
            limits.append(_resolve(ids) / 1000)  # rolled back: the items stay in review
            response = page.goto(f"/admin/reviews/incident/{key}/resolve/")
            if not response.ok:
                body = page.inner_text("body")[:600]
                raise SystemExit(f"the confirmation answered {response.status}:\n{body}")
            page.check("input[name=method][value=resume]")
            page.select_option("select[name=reason_code]", "replaced_proxy")
            page.fill("textarea[name=note]", "bench: incident from the browser")
            button = page.locator("input[type=submit].default")
            started = time.perf_counter()
            button.click()
            page.wait_for_url("**/batch/**", wait_until="load")
            seconds.append(time.perf_counter() - started)
            resolved += ids
            text = page.inner_text("#content")
            if f"{len(ids):,}" not in text and str(len(ids)) not in text:
                raise SystemExit(f"the batch page does not report {len(ids)} items:\n{text[:600]}")
        browser.close()
    return limits, seconds, resolved


def run(args) -> int:
    from bench.hot_path import save
    from bench.http_path import start_server, stop_server
    from warmup.models import PhaseStatus, WarmupPhase

    user = reviewer()
    with tempfile.NamedTemporaryFile("w", suffix=".log") as log:
        process, port = start_server(workers=2, threads=4, log=log)
        try:
            limits, seconds, resolved = in_browser(port, user, args)
        finally:
            stop_server(process)
    left = WarmupPhase.objects.filter(pk__in=resolved, status=PhaseStatus.REVIEW_REQUIRED).count()
    project, limit = statistics.median(seconds), statistics.median(limits)
    results = {
        "what": f"an incident of {args.items:,} items resumed from Chromium, click to batch page, "
        "vs resolve_reviews over the same items",
        "items": args.items,
        "limit_s": round(limit, 3),
        "browser_s": round(project, 3),
        "ratio": round(project / limit, 2),
        "target_s": TARGET_S,
        "within_target": project < TARGET_S,
        "left_in_review": left,
        "runs": args.repeat,
        **({"smoke": True} if args.smoke else {}),
    }
    save("incident_browser.json", results, smoke=args.smoke)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
