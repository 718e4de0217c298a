"""Fill the database with a believable demo: content, bots, accounts at every stage, a review
queue and its history, all made through the services."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.text import plural
from tools import demo


class Command(BaseCommand):
    help = (
        "Seed demo data: a content pool, demo bots, accounts on every platform at every stage "
        "of their warmup, a review queue with items of several ages and escalation levels, and "
        "resolved review history. Running it again leaves existing demo accounts alone."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--with-admin",
            action="store_true",
            help="Create (or reset) the superuser 'admin' with a random password (or "
            "DEMO_ADMIN_PASSWORD) and print the login.",
        )
        parser.add_argument(
            "--accounts",
            type=int,
            default=demo.DEFAULT_ACCOUNTS,
            metavar="N",
            help=f"How many demo accounts to enrol (default {demo.DEFAULT_ACCOUNTS}).",
        )
        parser.add_argument(
            "--live",
            type=int,
            default=demo.DEFAULT_LIVE,
            metavar="N",
            help=f"Fresh accounts on the fast plan {demo.FAST_PLAN!r} (steps seconds apart), "
            f"for run_demo's simulated bots to move (default {demo.DEFAULT_LIVE}).",
        )

    def handle(self, *args, with_admin, accounts, live, **options):
        if accounts < 0 or live < 0:
            raise CommandError("--accounts and --live must be 0 or more.")
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or None
        try:
            report = demo.seed(
                accounts=accounts, live=live, with_admin=with_admin, admin_password=password
            )
        except demo.DemoError as exc:
            raise CommandError(
                f"Could not seed the demo: {exc}. No demo account was written."
            ) from None

        out = self.stdout.write
        out(f"Content pool: added {report.content_added} items.")
        if report.bots_created:
            out(f"Bots: created {len(report.bots_created)}; their tokens (shown only now):")
            for name, token in report.bots_created.items():
                out(f"  {name}: {token}")
        else:
            out("Bots: the demo bots already exist.")
        if report.accounts_existing:
            out(
                f"Accounts: demo data already present ({report.accounts_existing} demo accounts); "
                "not adding more. Start from an empty database to seed again."
            )
        else:
            out(
                f"Accounts: enrolled {report.accounts_created} demo accounts on plan 'default'"
                f" and {report.live_created} on the fast plan {demo.FAST_PLAN!r}"
                " (steps seconds apart, for the simulated bots)."
            )
        statuses = demo.status_counts()
        out("Phases: " + ", ".join(f"{status} {count}" for status, count in statuses.items()))
        levels = demo.queue_levels()
        out(
            f"Review queue: {plural(statuses['review_required'], 'item')} ("
            + ", ".join(f"level {level}: {levels[level]}" for level in sorted(levels))
            + f"); {demo.resolution_count()} resolutions in the history."
        )
        if report.admin_password:
            action = "Created" if report.admin_created else "Reset the password of"
            out(self.style.SUCCESS(f"{action} the superuser '{demo.ADMIN_USERNAME}'."))
            out(f"Log in at {settings.WARMUP_BASE_URL.rstrip('/')}/admin/")
            out(f"  username: {demo.ADMIN_USERNAME}")
            out(f"  password: {report.admin_password}")
            out("To see what each role sees, log in as (same address):")
            for username, role_password in report.role_passwords.items():
                role = demo.ROLE_USERS[username]
                out(f"  {username} ({role}) with the password {role_password}")
