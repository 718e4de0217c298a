"""The scheduler tick on the fleet: with nothing due, and with 100 due items of each kind.

The limit is the tick's "is anything due" questions asked in raw SQL, each in its best shape,
through psycopg: leases expired, pending phases come due (on accounts with no active phase),
available phases waiting for content, items in review whose escalation level must rise. Each
project run ticks inside a transaction it rolls back (the fleet is shared), at the fleet's
moment `ctx.built_at`.
"""

from __future__ import annotations

from datetime import datetime

from bench.runner import Context, Pair, benchmark, timed

DUE_SQL = (
    """SELECT id FROM warmup_warmupphase
       WHERE status = 'in_progress' AND lease_expires_at <= %(now)s ORDER BY id LIMIT 500""",
    """SELECT id FROM warmup_warmupphase AS p
       WHERE status = 'pending' AND available_at <= %(now)s AND NOT EXISTS (
           SELECT 1 FROM warmup_warmupphase AS a WHERE a.account_id = p.account_id
           AND a.status IN ('available', 'content_assigned', 'in_progress', 'review_required'))
       ORDER BY available_at LIMIT 500""",
    """SELECT id FROM warmup_warmupphase WHERE status = 'available' ORDER BY id LIMIT 500""",
    """SELECT id FROM warmup_warmupphase
       WHERE status = 'review_required' AND (
           (escalation_level = 0 AND review_required_since <= %(now)s - %(t1)s)
        OR (escalation_level = 1 AND review_required_since <= %(now)s - %(t2)s)
        OR (escalation_level = 2 AND review_required_since <= %(now)s - %(t3)s))
       ORDER BY id LIMIT 500""",
)

# 100 of each kind of work, made due at `now` (run inside the tick's rolled-back transaction).
MAKE_DUE_SQL = (
    """UPDATE warmup_warmupphase SET lease_expires_at = %(now)s - interval '1 minute'
       WHERE id IN (SELECT id FROM warmup_warmupphase WHERE status = 'in_progress'
                    ORDER BY id LIMIT %(n)s)""",
    """UPDATE warmup_warmupphase SET available_at = %(now)s - interval '1 minute'
       WHERE id IN (SELECT id FROM warmup_warmupphase
                    WHERE status = 'pending' AND available_at > %(now)s ORDER BY id LIMIT %(n)s)""",
    """UPDATE warmup_warmupphase SET status = 'available', available_at = %(now)s
       WHERE id IN (SELECT id FROM warmup_warmupphase
                    WHERE status = 'pending' AND available_at > %(now)s
                    ORDER BY id DESC LIMIT %(n)s)""",
    """UPDATE warmup_warmupphase SET review_required_since = %(now)s - interval '2 hours'
       WHERE id IN (SELECT id FROM warmup_warmupphase
                    WHERE status = 'review_required' AND escalation_level = 0
                    ORDER BY id LIMIT %(n)s)""",
)
DUE_OF_EACH_KIND = 100


def _limit(ctx: Context, now: datetime) -> float:
    from django.conf import settings

    t1, t2, t3 = settings.WARMUP_ESCALATION_THRESHOLDS
    params = {"now": now, "t1": t1, "t2": t2, "t3": t3}
    with ctx.raw() as conn:
        conn.execute("SELECT 1")

        def ask():
            for sql in DUE_SQL:
                conn.execute(sql, params).fetchall()

        return timed(ask)[0]


def _tick(ctx: Context, *, due: int) -> tuple[float, int]:
    """Milliseconds and statements of one tick at the fleet's moment, `due` items of each kind
    made due first; everything rolled back."""
    from django.db import connection, transaction

    from warmup.services.tick import tick

    statements = []

    now = ctx.built_at
    with transaction.atomic():
        if due:
            with connection.cursor() as cursor:
                for sql in MAKE_DUE_SQL:
                    cursor.execute(sql, {"now": now, "n": due})
        with connection.execute_wrapper(
            lambda execute, *args: statements.append(1) or execute(*args)
        ):
            elapsed, report = timed(lambda: tick(now=now))
        if due and not ctx.smoke:
            expected = (due, due, 2 * due, due)
            got = (report.expired, report.unlocked, report.assigned + report.starved)
            if got != expected[:3] or report.escalated < due:
                raise RuntimeError(f"the tick did not do the work made due: {report}")
        transaction.set_rollback(True)
    return elapsed, len(statements)


@benchmark("tick_idle", what="scheduler tick with nothing due")
def tick_nothing_due(ctx: Context) -> Pair:
    elapsed, statements = _tick(ctx, due=0)
    return Pair(project=elapsed, limit=_limit(ctx, ctx.built_at), extra={"statements": statements})


@benchmark("tick_due", what="scheduler tick with 100 due items of each kind")
def tick_with_work(ctx: Context) -> Pair:
    elapsed, statements = _tick(ctx, due=DUE_OF_EACH_KIND)
    return Pair(project=elapsed, limit=_limit(ctx, ctx.built_at), extra={"statements": statements})
