"""The review queue on the fleet: the admin's first page and the review API's first page, each
unfiltered and with every filter, and the page's SQL with and without the review index.

The limit of a page is its own SQL (the 50 rows of the queue in queue order with the names they
show, and the count) through psycopg: what the database needs to answer the page. A project run
renders the page as a reviewer through Django's test client (the whole stack: middleware,
session, permissions, filters, count, rows, template), inside a transaction it rolls back (the
reviewer and the session are made there, the fleet is shared). "Each filter" runs one render
per filter (the search box is no filter: it reads every item in review) and reports the
slowest. Queries are counted on the unfiltered page and the most of any filter.

The index comparison drops `phase_review_queue_idx` inside a transaction it rolls back: nobody
else ever sees it gone, but the phases table is locked while it runs (about a second).
"""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import quote

from bench.runner import Context, Pair, benchmark, timed

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

ADMIN = "/admin/reviews/reviewitem/"
REVIEWER = "bench-reviewer"  # the user of _as_reviewer
# One FilterSet serves both (warmup.selectors.filters), so the same addresses filter either.
FILTERS = (
    "category=proxy_error",
    "category=held",
    "escalation_level=1",
    "waiting=1h",
    "assignee=none",
    "assignee=me",
    "phase_type=avatar",
    "platform=tiktok",
    "bot={bot}",
    "account_status=paused",
)
API = "/api/v1/reviews/"


def _static_manifest() -> None:
    """Pages as production serves them: hashed static names from collectstatic's manifest."""
    from pathlib import Path

    from django.conf import settings
    from django.core.management import call_command

    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        call_command("collectstatic", interactive=False, verbosity=0)


@contextmanager
def _as_reviewer():
    """A test client logged in as a new reviewer, everything it wrote rolled back after."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.test import Client

    from reviews.permissions import reviewers_group

    _static_manifest()
    with transaction.atomic():
        user = get_user_model().objects.create_user(REVIEWER, is_staff=True)
        user.groups.add(reviewers_group())
        client = Client()
        client.force_login(user)
        client.get(ADMIN)  # warm: the first request of a process pays for imports
        yield client
        transaction.set_rollback(True)


def _render(client, url: str) -> tuple[float, int]:
    """Milliseconds and queries of one GET (which must answer 200)."""
    from django.db import connection

    queries = []
    with connection.execute_wrapper(lambda execute, *args: queries.append(1) or execute(*args)):
        elapsed, response = timed(lambda: client.get(url))
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return elapsed, len(queries)


def _filtered(client, base: str, filters: tuple[str, ...]) -> tuple[float, int]:
    """The slowest render of the page over every filter, and the most queries of any."""
    from warmup.models import Bot

    bot = quote(Bot.objects.order_by("pk").values_list("name", flat=True).first() or "none")
    runs = [_render(client, f"{base}?{query.format(bot=bot)}") for query in filters]
    return max(ms for ms, _ in runs), max(n for _, n in runs)


def _page_sql_ms(ctx: Context) -> float:
    with ctx.raw() as conn:
        conn.execute(PAGE_SQL).fetchall()  # warm

        def page():
            conn.execute(PAGE_SQL).fetchall()
            conn.execute(COUNT_SQL).fetchone()

        return timed(page)[0]


@benchmark("queue_admin", what="admin review queue, first page, full render")
def queue_admin(ctx: Context) -> Pair:
    with _as_reviewer() as client:
        elapsed, queries = _render(client, ADMIN)
    return Pair(project=elapsed, limit=_page_sql_ms(ctx), extra={"queries": queries})


@benchmark("queue_admin_filtered", what="admin review queue, first page, slowest filter")
def queue_admin_filtered(ctx: Context) -> Pair:
    with _as_reviewer() as client:
        elapsed, queries = _filtered(client, ADMIN, FILTERS)
    return Pair(project=elapsed, limit=_page_sql_ms(ctx), extra={"queries": queries})


@benchmark("queue_api", what="review API, first page")
def queue_api(ctx: Context) -> Pair:
    with _as_reviewer() as client:
        client.get(API)
        elapsed, queries = _render(client, API)
    return Pair(project=elapsed, limit=_page_sql_ms(ctx), extra={"queries": queries})


@benchmark("queue_api_filtered", what="review API, first page, slowest filter")
def queue_api_filtered(ctx: Context) -> Pair:
    with _as_reviewer() as client:
        client.get(API)
        elapsed, queries = _filtered(client, API, FILTERS)
    return Pair(project=elapsed, limit=_page_sql_ms(ctx), extra={"queries": queries})


@benchmark(
    "queue_index",
    what="queue page SQL without the review index (limit: with it); ratio = the index's gain",
)
def queue_index(ctx: Context) -> Pair:
    from django.db import connection, transaction

    def page(cursor):
        cursor.execute(PAGE_SQL)
        cursor.fetchall()

    with transaction.atomic(), connection.cursor() as cursor:
        page(cursor)  # warm
        with_index = timed(lambda: page(cursor))[0]
        cursor.execute("SET LOCAL lock_timeout = '5s'")
        cursor.execute("DROP INDEX phase_review_queue_idx")
        page(cursor)
        without_index = timed(lambda: page(cursor))[0]
        transaction.set_rollback(True)
    # Lower is better for the project's figure, so "project" is the slower plan here and the
    # ratio reads as how many times the index speeds the page up.
    return Pair(project=without_index, limit=with_index)
