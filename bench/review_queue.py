"""Review queue benchmarks: the admin's first page, the review API's first page, and the
page's SQL with and without the review index, each beside its raw-SQL limit from the same run.

Each runner returns (project figure, limit figure); the figures are medians in milliseconds.
The limit is the first page's own SQL (the rows of the queue, in queue order, 50 of them)
through psycopg on one connection: what the database needs to answer the page.

Usage (PostgreSQL with a fleet loaded, e.g. by bench/fleet.py; the runners only read, and the
index comparison drops the index inside a transaction it rolls back):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \
    .venv/bin/python bench/review_queue.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 60)
os.environ.setdefault("DB_STATEMENT_TIMEOUT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

# The first page's SQL: what the queue shows, in its order, with the names it joins.
PAGE_SQL = """
SELECT p.id, p.phase_type, p.retry_count, p.last_failure_category, p.last_failure_reason,
       p.review_required_since, p.escalation_level, a.platform, a.username, t.name,
       b.name, u.username
FROM warmup_warmupphase p
JOIN warmup_account a ON a.id = p.account_id
JOIN warmup_phasetemplate t ON t.id = p.template_id
LEFT JOIN warmup_bot b ON b.id = p.bot_id
LEFT JOIN auth_user u ON u.id = p.review_assignee_id
WHERE p.status = 'review_required'
ORDER BY p.escalation_level DESC, p.review_required_since, p.id
LIMIT 50
"""
COUNT_SQL = "SELECT count(*) FROM warmup_warmupphase WHERE status = 'review_required'"

# The admin's filters, one value each, as a reviewer would click them.
ADMIN_FILTERS = {
    "none": "",
    "category": "category=proxy_error",
    "level": "level=1",
    "waiting": "waiting=1h",
    "assignee": "assignee=none",
    "phase_type": "phase_type=avatar",
    "platform": "platform=tiktok",
    "bot": None,  # the id of the first bot, filled in at run time
    "account_status": "account_status=active",
    "search": "q=timed",
}
API_FILTERS = {
    "none": "",
    "category": "category=proxy_error",
    "escalation_level": "escalation_level=1",
    "min_age": "min_age=3600",
    "assignee": "assignee=none",
    "phase_type": "phase_type=avatar",
    "platform": "platform=tiktok",
    "bot": None,
}


def setup() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Pages as production serves them: hashed static names from collectstatic's manifest.
    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        call_command("collectstatic", interactive=False, verbosity=0)


def median_ms(run, repeat: int) -> float:
    run()  # warm: connection, caches, plans
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def raw_page_ms(repeat: int) -> float:
    """The limit: the page's SQL (rows and count) through psycopg on one connection."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as conn:

        def run():
            conn.execute(PAGE_SQL).fetchall()
            conn.execute(COUNT_SQL).fetchone()

        return median_ms(run, repeat)


def reviewer():
    """A reviewer to look at the queue as (made once, kept: a user row changes no figure)."""
    from django.contrib.auth import get_user_model

    from reviews.permissions import reviewers_group

    user, _ = get_user_model().objects.get_or_create(
        username="bench-reviewer", defaults={"is_staff": True}
    )
    user.groups.add(reviewers_group())
    return user


def _client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _bot_filter(filters: dict, name: str) -> dict:
    from warmup.models import Bot

    bot = Bot.objects.order_by("pk").first()
    return {**filters, "bot": f"{name}={bot.pk}" if bot else ""}


def _page_runner(client, url: str, *, expect: str):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def run():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if expect:
            assert expect in response.content.decode()

    with CaptureQueriesContext(connection) as queries:
        run()
    return run, len(queries)


def admin_page(repeat: int) -> dict:
    """The admin queue's first page, full render, as a reviewer: median ms and queries per
    filter, against the raw page SQL."""
    client = _client(reviewer())
    filters = _bot_filter(ADMIN_FILTERS, "bot")
    per_filter = {}
    for name, query in filters.items():
        run, queries = _page_runner(
            client, f"/admin/reviews/reviewitem/?{query}", expect="in review"
        )
        per_filter[name] = {"ms": round(median_ms(run, repeat), 1), "queries": queries}
    return {"filters": per_filter, "limit_ms": round(raw_page_ms(repeat), 2)}


def api_page(repeat: int) -> dict:
    """GET /api/v1/reviews/ first page as a reviewer (session): median ms and queries per
    filter, against the raw page SQL."""
    client = _client(reviewer())
    filters = _bot_filter(API_FILTERS, "bot")
    per_filter = {}
    for name, query in filters.items():
        run, queries = _page_runner(client, f"/api/v1/reviews/?{query}", expect="")
        per_filter[name] = {"ms": round(median_ms(run, repeat), 1), "queries": queries}
    return {"filters": per_filter, "limit_ms": round(raw_page_ms(repeat), 2)}


def index_ratio(repeat: int) -> dict:
    """The page's SQL with the review index, and without it (dropped inside a transaction that
    is rolled back, so nobody else ever sees it gone... they wait on its lock instead: run this
    on a database of your own)."""
    from django.db import connection

    def timed(cursor):
        def run():
            cursor.execute(PAGE_SQL)
            cursor.fetchall()

        return median_ms(run, repeat)

    with connection.cursor() as cursor:
        with_index = timed(cursor)
        cursor.execute("BEGIN")
        try:
            cursor.execute("DROP INDEX phase_review_queue_idx")
            without_index = timed(cursor)
        finally:
            cursor.execute("ROLLBACK")
    return {
        "with_index_ms": round(with_index, 2),
        "without_index_ms": round(without_index, 2),
        "ratio": round(without_index / with_index, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench/review_queue.py needs DATABASE_URL to a PostgreSQL database with a fleet")
    results = {
        "admin_page": admin_page(args.repeat),
        "api_page": api_page(args.repeat),
        "page_sql_index": index_ratio(args.repeat),
    }
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "review_queue.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
