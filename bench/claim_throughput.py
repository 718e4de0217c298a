"""Claim throughput benchmark: does claiming stay flat as the fleet grows, and scale with bots?

Reports ratios measured in one run (the machine is shared and noisy; absolute numbers are not
comparable between runs):
  - size ratio: claims/s with LARGE ready phases vs SMALL ready phases (1.0 = flat; the partial
    claim index should keep it near 1);
  - thread ratio: claims/s with 4 threads vs 1 thread on the LARGE set (PostgreSQL only; SKIP
    LOCKED lets claimers pass each other instead of queueing).

Usage (creates and drops its own databases next to DATABASE_URL's):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    .venv/bin/python bench/claim_throughput.py
  [--small 1000] [--large 10000] [--claims 400]
Writes bench/results/claim_throughput.json.
"""

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))


def setup_database(name_suffix: str) -> None:
    import django
    from django.conf import settings

    django.setup()
    from django.db import connection

    if connection.vendor == "postgresql":
        from django.db import connections

        base = settings.DATABASES["default"]["NAME"]
        name = f"bench_{name_suffix}"
        with connection.cursor() as cursor:
            connection.connection.autocommit = True
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
            cursor.execute(f"CREATE DATABASE {name}")
        connections.close_all()
        settings.DATABASES["default"]["NAME"] = name
        print(f"benchmark database {name} (next to {base})")
    else:
        settings.DATABASES["default"]["NAME"] = str(ROOT / "bench" / f"bench_{name_suffix}.sqlite3")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def drop_database() -> None:
    from django.conf import settings
    from django.db import connections

    name = settings.DATABASES["default"]["NAME"]
    connections.close_all()
    if connections["default"].vendor == "postgresql":
        settings.DATABASES["default"]["NAME"] = "postgres"
        with connections["default"].cursor() as cursor:
            connections["default"].connection.autocommit = True
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        connections.close_all()
    else:
        Path(name).unlink(missing_ok=True)


def seed(count: int, offset: int) -> None:
    from warmup.models import ContentItem, Platform, WarmupPlan
    from warmup.services.accounts import account_enrol
    from warmup.services.tick import tick

    plan = WarmupPlan.objects.get(slug="default")
    if not ContentItem.objects.exists():
        ContentItem.objects.bulk_create(
            ContentItem(phase_type="profile_bio", title=f"bio {i}") for i in range(50)
        )
    platforms = Platform.values
    for i in range(offset, offset + count):
        account_enrol(platform=platforms[i % len(platforms)], username=f"bench{i}", plan=plan)
    tick()
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would in production


def claims_per_second(claims: int, threads: int) -> float:
    from django.db import connection

    from bench.threads import together
    from warmup.models import Bot
    from warmup.services.bot_work import phase_claim
    from warmup.services.bots import bot_create

    bots = []
    for _ in range(threads):
        bot, _token = bot_create(name=f"bench-{time.monotonic_ns()}")
        bots.append(bot)
    per_thread = claims // threads
    got = []

    def work(bot: Bot):
        n = 0
        for _ in range(per_thread):
            if phase_claim(bot=bot) is not None:
                n += 1
        got.append(n)
        connection.close()

    elapsed = together(work, bots)
    assert sum(got) == per_thread * threads, f"ran out of phases: {got}"
    return sum(got) / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10000)
    parser.add_argument("--claims", type=int, default=400)
    args = parser.parse_args()

    setup_database(str(os.getpid()))
    from django.db import connection

    seed(args.small, 0)
    small = claims_per_second(args.claims, 1)
    seed(args.large - args.small + args.claims, args.small)  # top up to LARGE ready phases
    large = claims_per_second(args.claims, 1)
    results = {
        "database": connection.vendor,
        "small_ready": args.small,
        "large_ready": args.large,
        "claims_per_run": args.claims,
        "size_ratio_large_vs_small": round(large / small, 3),
    }
    if connection.vendor == "postgresql":
        one = claims_per_second(args.claims, 1)
        four = claims_per_second(args.claims, 4)
        results["thread_ratio_4_vs_1"] = round(four / one, 3)
    drop_database()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "claim_throughput.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
