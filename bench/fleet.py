"""Build a fleet of accounts in realistic shape, fast: `python -m bench.fleet --accounts 200000`.

The benchmarks (`bench/runner.py`) measure against a fleet this module builds into the
PostgreSQL database of DATABASE_URL: it migrates the database, then fills it by set-based SQL
(INSERT ... SELECT over generate_series), one statement per kind of row, and ends with
VACUUM ANALYZE and the review log's hours counted as the scheduler keeps them. 200,000
accounts on the default plan (5 steps) make 1,000,000 phases.

The shape, by account id (so the same size always builds the same fleet):

  share  what the account is doing             its phases
  10 %   in review (about 20,000 at 200k)      k completed, one review_required, pending rest
   5 %   held by a bot                         k completed, one in_progress with a lease
  40 %   ready to be claimed                   k completed, one content_assigned (due now)
   5 %   waiting to retry a failure            k completed, one content_assigned (due later)
  30 %   waiting for its next step's delay     k completed, the next pending until later
  10 %   done                                  all 5 completed

History as the services would have left it: one completed attempt per completed phase, a
failed attempt for every failure (retried ones with their retry count), an open attempt for
every lease; for each phase in review the ReviewLog row that put it there and one row per
escalation level it rose, hash-chained by `warmup.lifecycle.chain` (the rows are hashed here in
Python and written with COPY), so `manage.py check_warmup_integrity` passes on the fleet.

Nothing is due at the moment the fleet was built (`bench_fleet.built_at`): no pending phase has
come due, no lease has expired, no available phase waits for content, and every item in review
has exactly the escalation level its time in review calls for. A benchmark that wants "nothing
due" ticks at that moment; one that wants work adds it in a transaction it rolls back.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta

# The generator's statements run long, and it needs no server settings: a throwaway key.
os.environ["DB_STATEMENT_TIMEOUT"] = "0"
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

CONTENT_PER_TYPE = 50
BOTS = 200
REVIEWERS = 20
FAILURES = (
    "login_failed",
    "challenge_required",
    "rate_limited",
    "action_blocked",
    "content_rejected",
    "proxy_error",
    "network_error",
    "lease_expired",
)

# Each statement sees :t0 (the fleet's moment) and the temporary table fleet_template.
ACCOUNTS_SQL = """
INSERT INTO warmup_account (platform, username, status, created_at, status_changed_at, plan_id)
SELECT (ARRAY['instagram','tiktok','x','facebook','youtube'])[1 + i %% 5],
       'bench' || i, 'active', %(t0)s - interval '10 days', NULL, %(plan)s
FROM generate_series(1, %(accounts)s) AS i
"""
# With --history-months: an account was enrolled before its completed steps (its phases too).
ENROLLED_SQL = """
UPDATE warmup_account AS a SET created_at = a.created_at - s.spread
FROM fleet_shape AS s WHERE s.account_id = a.id AND s.spread > interval '0'
"""

# kind: what the account is doing (see the module docstring); done: its completed phases.
# spread: how long before the fleet's recent days the account's completed steps were done
# (0 unless --history-months: then spread over those months, by id).
SHAPE_SQL = """
CREATE TEMPORARY TABLE fleet_shape AS
SELECT id AS account_id, platform, kind,
       CASE kind WHEN 'waiting' THEN 1 + (id / 100) %% 4
                 WHEN 'done' THEN 5
                 ELSE (id / 100) %% 5 END AS done,
       (id / 7) %% 4 AS level,
       (id * 7919 %% %(spread_hours)s) * interval '1 hour' AS spread
FROM (
    SELECT id, platform, CASE WHEN id %% 100 < 10 THEN 'review'
                    WHEN id %% 100 < 15 THEN 'held'
                    WHEN id %% 100 < 55 THEN 'ready'
                    WHEN id %% 100 < 60 THEN 'retrying'
                    WHEN id %% 100 < 90 THEN 'waiting'
                    ELSE 'done' END AS kind
    FROM warmup_account
) AS accounts
"""

# One row per account and step; `state` is the phase's status before the columns follow it.
PHASES_SQL = """
INSERT INTO warmup_warmupphase (
    account_id, template_id, "order", phase_type, platform, status, content_id, available_at,
    next_attempt_at, bot_id, lease_token, lease_expires_at, retry_count, attempt_count,
    last_failure_category, last_failure_reason, last_failure_details, last_failure_at,
    review_required_since, review_assignee_id, escalation_level, completed_at,
    completion_method, created_at, updated_at
)
SELECT s.account_id, t.id, t."order", t.phase_type, s.platform, p.state,
       CASE WHEN t.requires_content AND p.state <> 'pending'
            THEN t.content_lo + s.account_id %% %(content_n)s
       END,
       CASE WHEN p.state = 'pending' AND s.kind = 'waiting' AND t."order" = s.done + 1
            THEN %(t0)s + interval '1 hour' + (s.account_id %% 20) * interval '1 hour'
            WHEN p.state <> 'pending' THEN p.finished - interval '1 hour'
       END,
       CASE WHEN s.kind = 'ready' AND p.state = 'content_assigned'
            THEN %(t0)s - (s.account_id %% 3600) * interval '1 second'
            WHEN s.kind = 'retrying' AND p.state = 'content_assigned'
            THEN %(t0)s + interval '5 minutes' + (s.account_id %% 600) * interval '1 second'
            WHEN p.state = 'in_progress' THEN %(t0)s - interval '20 minutes'
       END,
       CASE WHEN p.state IN ('completed', 'in_progress', 'review_required')
            THEN %(bot_lo)s + s.account_id %% %(bots)s END,
       CASE WHEN p.state = 'in_progress' THEN gen_random_uuid() END,
       CASE WHEN p.state = 'in_progress'
            THEN %(t0)s + t.lease_duration - (s.account_id %% 300) * interval '1 second' END,
       CASE WHEN p.failed AND s.account_id %% 3 = 0 THEN 1
            WHEN s.kind = 'retrying' AND p.state = 'content_assigned' THEN 1 ELSE 0 END,
       CASE WHEN p.past_review THEN 2
            WHEN p.state = 'completed' OR p.state = 'in_progress' THEN 1
            WHEN p.failed THEN 1 + (s.account_id %% 3 = 0)::int
            WHEN s.kind = 'retrying' AND p.state = 'content_assigned' THEN 1 ELSE 0 END,
       CASE WHEN p.failed OR (s.kind = 'retrying' AND p.state = 'content_assigned')
            THEN (%(failures)s::text[])[1 + s.account_id %% %(failure_kinds)s]
            WHEN p.past_review
            THEN (%(failures)s::text[])[1 + (s.account_id + t."order") %% %(failure_kinds)s]
            ELSE '' END,
       CASE WHEN p.failed OR p.past_review
                 OR (s.kind = 'retrying' AND p.state = 'content_assigned')
            THEN 'the bot reported a failure' ELSE '' END,
       '{}'::jsonb,
       CASE WHEN p.failed THEN p.since
            WHEN p.past_review THEN p.finished - interval '3 hours'
            WHEN s.kind = 'retrying' AND p.state = 'content_assigned'
            THEN %(t0)s - interval '1 minute' END,
       p.since,
       CASE WHEN p.failed AND s.account_id %% 4 = 0
            THEN %(user_lo)s + s.account_id %% %(users)s END,
       CASE WHEN p.failed THEN s.level ELSE 0 END,
       CASE WHEN p.state = 'completed' THEN p.finished END,
       CASE WHEN p.state = 'completed' THEN 'bot' ELSE '' END,
       %(t0)s - interval '10 days' - s.spread, %(t0)s
FROM fleet_shape AS s
CROSS JOIN fleet_template AS t
CROSS JOIN LATERAL (
    SELECT CASE WHEN t."order" <= s.done THEN 'completed'
                WHEN t."order" > s.done + 1 THEN 'pending'
                WHEN s.kind = 'review' THEN 'review_required'
                WHEN s.kind = 'held' THEN 'in_progress'
                WHEN s.kind IN ('ready', 'retrying') THEN 'content_assigned'
                ELSE 'pending' END AS state,
           s.kind = 'review' AND t."order" = s.done + 1 AS failed,
           -- A completed step that went through review once, months ago (--history-months).
           %(past_reviews)s AND t."order" <= s.done
               AND (s.account_id + t."order") %% %(past_review_every)s = 0 AS past_review,
           %(t0)s - CASE WHEN t."order" <= s.done THEN s.spread ELSE interval '0' END
                  - (s.done - t."order" + 1) * interval '1 day'
                  - (s.account_id %% 3600) * interval '1 second' AS finished,
           CASE WHEN s.kind = 'review' AND t."order" = s.done + 1 THEN
               %(t0)s - CASE s.level
                   WHEN 0 THEN interval '1 minute' + (s.account_id %% 28) * interval '1 minute'
                   WHEN 1 THEN interval '65 minutes' + (s.account_id %% 165) * interval '1 minute'
                   WHEN 2 THEN interval '250 minutes' + (s.account_id %% 1130) * interval '1 minute'
                   ELSE interval '25 hours' + (s.account_id %% 215) * interval '1 hour' END
           END AS since
) AS p
ORDER BY s.account_id, t."order"
"""

# Completed attempts, retried failures, final failures (into review), open attempts (leases).
ATTEMPTS_SQL = """
INSERT INTO warmup_phaseattempt (
    phase_id, number, bot_id, lease_token, content_id, claimed_at, finished_at, outcome,
    failure_category, reason, details, retryable, result, decision, retry_count_after,
    max_retries, next_attempt_at
)
SELECT id, attempt_count, bot_id, gen_random_uuid(), content_id,
       completed_at - interval '2 minutes', completed_at, 'completed', '', '', '{}'::jsonb, NULL,
       '{}'::jsonb, '', NULL, NULL, NULL
FROM warmup_warmupphase WHERE status = 'completed'
UNION ALL
SELECT id, 1, bot_id, gen_random_uuid(), content_id,
       last_failure_at - interval '2 minutes', last_failure_at, 'failed',
       last_failure_category, last_failure_reason, '{}', FALSE, '{}', 'review_required',
       NULL::integer, 3, NULL::timestamptz
FROM warmup_warmupphase WHERE status = 'completed' AND attempt_count = 2
UNION ALL
SELECT id, 1, COALESCE(bot_id, %(bot_lo)s), gen_random_uuid(), content_id,
       last_failure_at - interval '30 minutes', last_failure_at - interval '25 minutes',
       'failed', last_failure_category, last_failure_reason, '{}', TRUE, '{}',
       'retry_scheduled', 1, 3, last_failure_at
FROM warmup_warmupphase
WHERE retry_count = 1 AND status IN ('content_assigned', 'review_required')
UNION ALL
SELECT id, attempt_count, bot_id, gen_random_uuid(), content_id,
       review_required_since - interval '2 minutes', review_required_since, 'failed',
       last_failure_category, last_failure_reason, '{}', FALSE, '{}', 'review_required',
       NULL, 3, NULL
FROM warmup_warmupphase WHERE status = 'review_required'
UNION ALL
SELECT id, 1, bot_id, lease_token, content_id, %(t0)s - interval '1 minute', NULL, '', '', '',
       '{}', NULL, '{}', '', NULL, NULL, NULL
FROM warmup_warmupphase WHERE status = 'in_progress'
"""

# Completed steps that went through review once (--history-months): failed, escalated, resumed.
PAST_REVIEWS_SQL = """
SELECT id, account_id, bot_id, content_id, last_failure_category, last_failure_reason,
       phase_type, last_failure_at
FROM warmup_warmupphase WHERE status = 'completed' AND attempt_count = 2 ORDER BY id
"""

REVIEW_ITEMS_SQL = """
SELECT id, account_id, bot_id, content_id, last_failure_category, last_failure_reason,
       retry_count, escalation_level, review_required_since, review_signature_id
FROM warmup_warmupphase WHERE status = 'review_required' ORDER BY id
"""
# One item in review in this many came back: resumed by a reviewer three hours before it
# failed the same way again.
CAME_BACK_EVERY = 8
CAME_BACK_AFTER = timedelta(hours=3)
# Each phase a reviewer resolved keeps that moment (the resumes are the fleet's resolutions).
LAST_RESOLVED_SQL = """
UPDATE warmup_warmupphase AS p SET last_resolved_at = l.created_at
FROM (SELECT DISTINCT ON (phase_id) phase_id, created_at FROM reviews_reviewlog
      WHERE action = 'resumed' ORDER BY phase_id, id DESC) AS l
WHERE l.phase_id = p.id
"""

# A dead proxy pool: its failures name a proxy each (one signature per plan step all the same).
PROXY_REASONS_SQL = """
UPDATE warmup_warmupphase
SET last_failure_reason = 'Proxy 10.' || (id % 250) || '.' || (id / 250 % 250)
                          || '.7:3128 refused the connection'
WHERE last_failure_category = 'proxy_error'
"""
# One reason per category and plan step, the proxies' aside: its signature stands for all.
FAILURE_KINDS_SQL = """
SELECT last_failure_category, phase_type, min(last_failure_reason)
FROM warmup_warmupphase WHERE last_failure_category <> '' GROUP BY 1, 2 ORDER BY 1, 2
"""
# Each failed attempt and each item in review gets its kind's signature ({values}: VALUES rows).
SIGN_ATTEMPTS_SQL = """
UPDATE warmup_phaseattempt AS a SET signature_id = s.key
FROM warmup_warmupphase AS p, (VALUES {values}) AS s(category, phase_type, key)
WHERE a.phase_id = p.id AND a.failure_category = s.category AND p.phase_type = s.phase_type
"""
SIGN_ITEMS_SQL = """
UPDATE warmup_warmupphase AS p SET review_signature_id = s.key
FROM (VALUES {values}) AS s(category, phase_type, key)
WHERE p.status = 'review_required' AND p.last_failure_category = s.category
  AND p.phase_type = s.phase_type
"""

HISTORY_REACH = timedelta(days=31)  # how far back the history goes without --history-months
MONTH = timedelta(days=30)  # a month of --history-months
PAST_REVIEW_EVERY = 16  # with --history-months: one completed step in 16 went through review
REASON_CODES = ("fixed_credentials", "solved_challenge", "replaced_proxy", "waited_out_limit")

# The indexes of the tables the fleet fills that no constraint owns (a partitioned table's
# own, which its partitions' follow), as the migrations made them.
INDEXES_SQL = """
SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)
FROM pg_index
WHERE indrelid::regclass::text IN (
    'warmup_account', 'warmup_warmupphase', 'warmup_phaseattempt', 'reviews_reviewlog')
  AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conindid <> 0)
ORDER BY 1
"""

# The foreign keys of the tables the fleet fills, as the migrations made them.
FOREIGN_KEYS_SQL = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
FROM pg_constraint
WHERE contype = 'f' AND conrelid::regclass::text IN (
    'warmup_account', 'warmup_warmupphase', 'warmup_phaseattempt', 'reviews_reviewlog')
ORDER BY conrelid::regclass::text, conname
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fleet",
        description="Build a benchmark fleet in the (empty or fresh) PostgreSQL database "
        "of DATABASE_URL.",
    )
    parser.add_argument("--accounts", type=int, default=200_000, help="default 200000")
    parser.add_argument(
        "--history-months",
        type=int,
        default=0,
        metavar="N",
        help="spread the completed steps' history (attempts, and one in 16 resolved through "
        "review) over the N months before the fleet's last days, so N monthly partitions hold "
        "rows (default 0: all history within the last ten days)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="drop and create the database first (it must be yours: everything in it is lost)",
    )
    args = parser.parse_args(argv)
    if args.accounts < 100:
        parser.error("--accounts must be at least 100 (every kind of account needs one)")
    if not 0 <= args.history_months <= 120:
        parser.error("--history-months must be between 0 and 120")
    return args


def recreate_database() -> None:
    """Drop and create DATABASE_URL's database, connected to the server's `postgres` one."""
    _on_server(drop=True, create=True)


def drop_database() -> None:
    """Drop DATABASE_URL's database (the smoke run's own)."""
    _on_server(drop=True, create=False)


def _on_server(*, drop: bool, create: bool) -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        dbname="postgres",
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
    ) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def build(accounts: int, *, history_months: int = 0, log=print) -> datetime:
    """Migrate and fill the database; returns the fleet's moment (nothing is due then)."""
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    from warmup.models import Account

    if Account.objects.exists():
        raise SystemExit(
            "bench.fleet: the database has accounts already; build into an empty one "
            "(--fresh drops and recreates it)"
        )
    t0 = datetime.now(UTC).replace(microsecond=0)
    started = time.monotonic()

    def step(what: str) -> None:
        log(f"  {time.monotonic() - started:6.1f} s  {what}")

    with transaction.atomic(), connection.cursor() as cursor:
        # Sorts, index builds and the foreign keys' checks in memory, not in temporary files.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # Foreign keys checked once per table at the end, not by a trigger per inserted row;
        # indexes built once at the end, not maintained row by row (at 10M phases the indexes
        # outgrow the shared buffers and each insert reads and writes their pages).
        cursor.execute(FOREIGN_KEYS_SQL)
        foreign_keys = cursor.fetchall()
        for table, name, _ in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        cursor.execute(INDEXES_SQL)
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
        fill(cursor, accounts, t0, history_months=history_months, log=step)
        for _, definition in indexes:
            cursor.execute(definition.replace(" ON ONLY ", " ON "))
        step(f"{len(indexes)} indexes built")
        for table, name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        step("foreign keys checked")
    with connection.cursor() as cursor:  # autocommit again: VACUUM runs outside a transaction
        cursor.execute("VACUUM ANALYZE")
    step("VACUUM ANALYZE")
    # The review log's hours counted as the scheduler keeps them (a day a tick), all at once.
    from warmup.services.review_hours import review_hours_count_due

    hours = 0
    while counted := review_hours_count_due(now=t0):
        hours += counted
    step(f"{hours:,} hours of the review log counted")
    return t0


def fill(
    cursor, accounts: int, t0: datetime, *, history_months: int = 0, log=lambda what: None
) -> None:
    """Insert the fleet (no VACUUM): `build`'s work, also used by tests on a small fleet."""
    from django.db import connection

    from config.partitions import ensure_partitions

    # The history's months' partitions first (PostgreSQL): about ten days back, or the months
    # asked for before those days.
    ensure_partitions(connection, now=t0, since=t0 - HISTORY_REACH - history_months * MONTH)
    params = _pool(cursor, t0)
    params.update(
        accounts=accounts,
        t0=t0,
        # The spread in hours, under the ten recent days: 1 makes it 0 for every account.
        spread_hours=max(1, int((history_months * MONTH - HISTORY_REACH) / timedelta(hours=1))),
        past_reviews=history_months > 0,
        past_review_every=PAST_REVIEW_EVERY,
    )
    log("plan, content pool, bots, reviewers")
    cursor.execute(ACCOUNTS_SQL, params)
    cursor.execute(SHAPE_SQL, params)
    if history_months:
        cursor.execute(ENROLLED_SQL)
    log(f"{accounts:,} accounts")
    cursor.execute(PHASES_SQL, params)
    log(f"{cursor.rowcount:,} phases")
    cursor.execute(PROXY_REASONS_SQL)
    cursor.execute(ATTEMPTS_SQL, params)
    log(f"{cursor.rowcount:,} attempts")
    signatures = _sign(cursor, t0)
    log(f"{len(signatures)} failure signatures on the attempts and the items in review")
    rows = _write_review_log(cursor, signatures, user_lo=params["user_lo"])
    log(f"{rows:,} review log rows, hash-chained")
    cursor.execute(LAST_RESOLVED_SQL)
    cursor.execute(
        "CREATE TABLE bench_fleet (built_at timestamptz NOT NULL, accounts integer NOT NULL)"
    )
    cursor.execute("INSERT INTO bench_fleet VALUES (%s, %s)", [t0, accounts])
    cursor.execute("DROP TABLE fleet_shape, fleet_template")


def _pool(cursor, t0: datetime) -> dict:
    """Content, bots and reviewers; the temporary table of the default plan's steps."""
    from django.contrib.auth.models import User

    from reviews.permissions import reviewers_group

    cursor.execute("SELECT id FROM warmup_warmupplan WHERE slug = 'default'")
    plan = cursor.fetchone()[0]
    cursor.execute(
        """CREATE TEMPORARY TABLE fleet_template AS
           SELECT id, "order", phase_type, requires_content, lease_duration
           FROM warmup_phasetemplate WHERE plan_id = %s""",
        [plan],
    )
    cursor.execute(
        """INSERT INTO warmup_contentitem
               (phase_type, title, body, media_url, is_active, times_used, created_at)
           SELECT t.phase_type, t.phase_type || ' ' || n, '', '', TRUE, 0, %s
           FROM fleet_template AS t, generate_series(1, %s) AS n
           WHERE t.requires_content ORDER BY t."order", n""",
        [t0, CONTENT_PER_TYPE],
    )
    cursor.execute("ALTER TABLE fleet_template ADD COLUMN content_lo bigint")
    cursor.execute(
        """UPDATE fleet_template AS t SET content_lo = (
               SELECT min(id) FROM warmup_contentitem AS c WHERE c.phase_type = t.phase_type)"""
    )
    cursor.execute(
        """INSERT INTO warmup_bot
               (name, is_active, is_simulated, token_prefix, token_hash, created_at)
           SELECT 'bench-bot-' || n, TRUE, FALSE, md5('bench' || n)::varchar(12),
                  md5(random()::text) || md5(random()::text), %s
           FROM generate_series(1, %s) AS n RETURNING id""",
        [t0, BOTS],
    )
    bot_lo = min(row[0] for row in cursor.fetchall())
    users = User.objects.bulk_create(
        [User(username=f"bench-reviewer-{n}", is_staff=True) for n in range(1, REVIEWERS + 1)]
    )
    reviewers_group().user_set.add(*users)
    return {
        "plan": plan,
        "content_n": CONTENT_PER_TYPE,
        "bot_lo": bot_lo,
        "bots": BOTS,
        "user_lo": min(user.pk for user in users),
        "users": REVIEWERS,
        "failures": list(FAILURES),
        "failure_kinds": len(FAILURES),
    }


def _sign(cursor, t0: datetime) -> dict[tuple[str, str], str]:
    """The failures' signatures, as the services would have stored them: computed by
    `warmup.domain.signatures` once per kind of failure (category and plan step; the fleet's
    reasons differ only where the normaliser takes them for one), then set by two UPDATEs.
    Returns each kind's signature key."""
    from warmup.domain.signatures import signature_of

    cursor.execute(FAILURE_KINDS_SQL)
    signatures = [
        signature_of(category=category, phase_type=phase_type, reason=reason)
        for category, phase_type, reason in cursor.fetchall()
    ]
    if not signatures:
        return {}
    cursor.executemany(
        "INSERT INTO warmup_failuresignature (key, title, category, phase_type, first_seen_at) "
        "VALUES (%s, %s, %s, %s, %s)",
        [(s.key, s.title, s.category, s.phase_type, t0) for s in signatures],
    )
    values = ", ".join(["(%s, %s, %s)"] * len(signatures))
    params = [value for s in signatures for value in (s.category, s.phase_type, s.key)]
    cursor.execute(SIGN_ATTEMPTS_SQL.format(values=values), params)
    cursor.execute(SIGN_ITEMS_SQL.format(values=values), params)
    return {(s.category, s.phase_type): s.key for s in signatures}


def _write_review_log(cursor, signatures: dict[tuple[str, str], str], *, user_lo: int) -> int:
    """For each item in review: the row that escalated it (by its bot) and one row per level it
    rose (by the system); for each completed step that went through review once (with
    --history-months): its escalation, perhaps a level, and a reviewer's resume. Chained and
    hashed as `warmup.lifecycle.review_log` would, written with COPY in chunks."""
    from django.conf import settings

    from warmup.lifecycle.chain import CHAIN_START, CHAINED_FIELDS, row_hash

    # The hashed fields and the two hashes: everything of a row but its id.
    columns = (*CHAINED_FIELDS, "previous_hash", "hash")
    thresholds = settings.WARMUP_ESCALATION_THRESHOLDS
    raw = cursor.cursor if hasattr(cursor, "cursor") else cursor

    # Both read before the COPY begins (the connection does nothing else during one).
    cursor.execute(REVIEW_ITEMS_SQL)
    items = cursor.fetchall()
    cursor.execute(PAST_REVIEWS_SQL)
    past = cursor.fetchall()

    def resumed(common: dict, phase: int, content, level: int, waited, at) -> dict:
        return {
            **common,
            "action": "resumed",
            "actor_type": "user",
            "actor_user_id": user_lo + phase % REVIEWERS,
            "actor_bot_id": None,
            "from_status": "review_required",
            "to_status": "content_assigned",
            "escalation_level": level,
            "resolution_method": "resume",
            "reason_code": REASON_CODES[phase % len(REASON_CODES)],
            "note": "fixed, back to the bots",
            "time_in_review": waited,
            "data": {"assignee": None, "content": content},
            "created_at": at,
        }

    def chains():
        for phase, account, bot, content, category, reason, retries, level, since, signature in (
            items
        ):
            common = _common(phase, account, category, retries, signature)
            rows = []
            if phase % CAME_BACK_EVERY == 0:
                before = since - CAME_BACK_AFTER
                waited = timedelta(minutes=20)
                rows += [
                    _escalated(common, bot, reason, before - waited),
                    resumed(common, phase, content, 0, waited, before),
                ]
            rows.append(_escalated(common, bot, reason, since))
            rows += [
                _raised(common, rise, since + thresholds[rise - 1]) for rise in range(1, level + 1)
            ]
            yield rows
        for phase, account, bot, content, category, reason, phase_type, failed_at in past:
            common = _common(phase, account, category, 0, signatures.get((category, phase_type)))
            level = phase // PAST_REVIEW_EVERY % 2  # half of them waited past the first level
            rows = [_escalated(common, bot, reason, failed_at)]
            if level:
                rows.append(_raised(common, 1, failed_at + thresholds[0]))
            waited = thresholds[0] + timedelta(minutes=30) if level else timedelta(minutes=20)
            rows.append(resumed(common, phase, content, level, waited, failed_at + waited))
            yield rows

    count, buffer = 0, io.StringIO()
    with raw.copy(f"COPY reviews_reviewlog ({', '.join(columns)}) FROM STDIN") as copy:
        for rows in chains():
            previous = CHAIN_START
            for row in rows:
                row["previous_hash"] = previous
                row["hash"] = previous = row_hash(row, previous)
                buffer.write("\t".join(_copy_value(row[name]) for name in columns) + "\n")
                count += 1
            if buffer.tell() > 8_000_000:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


def _common(phase, account, category, retries, signature) -> dict:
    """The fields every row of one item's review shares."""
    return {
        "phase_id": phase,
        "account_id": account,
        "failure_category": category,
        "retry_count": retries,
        "resolution_method": "",
        "reason_code": "",
        "time_in_review": None,
        "batch": None,
        "to_status": "review_required",
        "signature_id": signature,
    }


def _escalated(common: dict, bot, reason: str, at: datetime) -> dict:
    """The row of a bot's failure that put the item in review."""
    return {
        **common,
        "action": "escalated",
        "actor_type": "bot",
        "actor_user_id": None,
        "actor_bot_id": bot,
        "from_status": "in_progress",
        "escalation_level": 0,
        "note": reason,
        "data": {},
        "created_at": at,
    }


def _raised(common: dict, rise: int, at: datetime) -> dict:
    """The row of the scheduler raising the item's escalation level to `rise`."""
    return {
        **common,
        "action": "escalation_raised",
        "actor_type": "system",
        "actor_user_id": None,
        "actor_bot_id": None,
        "from_status": "review_required",
        "escalation_level": rise,
        "note": "",
        "data": {"level": rise},
        "created_at": at,
    }


def _copy_value(value) -> str:
    """A value in COPY's text format (no value here holds a tab, newline or backslash)."""
    if value is None:
        return "\\N"
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def main(argv=None) -> None:
    args = parse_args(argv)
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench.fleet: DATABASE_URL must point at PostgreSQL")
    if args.fresh:
        recreate_database()
    started = time.monotonic()
    print(f"building a fleet of {args.accounts:,} accounts in {connection.settings_dict['NAME']}")
    t0 = build(args.accounts, history_months=args.history_months)
    print(f"done in {time.monotonic() - started:.1f} s; nothing is due at {t0.isoformat()}")


if __name__ == "__main__":
    sys.exit(main())
