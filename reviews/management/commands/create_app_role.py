"""Create (or bring up to date) the database role the app runs as in production: it may read
and write the app's tables, but on the review log only SELECT and INSERT, and it owns nothing,
so it cannot turn off the log's append-only trigger, TRUNCATE the log, or set
`session_replication_role` (which would skip triggers). Migrations still run as the owner.

PostgreSQL only. Run it as the owner of the tables (the DATABASE_URL migrations use), after
`migrate`; rerun it after migrations that add tables is harmless (default privileges cover
tables the owner creates later anyway). Exit status: 0 done, 2 usage error.
"""

from __future__ import annotations

import os
import re

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg import sql

from config.partitions import close_partitions_to
from reviews.models import ReviewLog

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

NOT_POSTGRESQL = (
    "create_app_role needs PostgreSQL (DATABASE_URL=postgresql://...); this database is {vendor}, "
    "which has no roles."
)
BAD_NAME = (
    "{name!r} is not a role name this command creates: lower-case letters, digits and _, "
    "starting with a letter or _, at most 63 characters."
)
NAME_IS_OWNER = (
    "{name!r} is the role you are connected as, the owner of the tables: give the app a role "
    "of its own."
)
NAME_IS_SUPERUSER = "Role {name!r} exists and is a superuser; it cannot be made the app's role."
PASSWORD_UNSET = "--password-env {var}: the environment variable {var} is not set or is empty."
DONE = (
    "Role {name} may log in to {database}: SELECT, INSERT, UPDATE, DELETE on the app's tables, "
    "only SELECT and INSERT on {log}. Point the app's DATABASE_URL at it; run migrate as the "
    "owner ({owner})."
)


class Command(BaseCommand):
    help = "Create the PostgreSQL login role the app runs as (append-only review log)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The role's name, e.g. warmup_app.")
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="Set the role's password from this environment variable (never an argument: "
            "it would show in the process list and the shell history).",
        )

    def handle(self, *args, name, password_env=None, **options):
        if not ROLE_NAME.match(name):
            raise CommandError(BAD_NAME.format(name=name), returncode=2)
        if connection.vendor != "postgresql":
            raise CommandError(NOT_POSTGRESQL.format(vendor=connection.vendor), returncode=2)
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(PASSWORD_UNSET.format(var=password_env), returncode=2)
        with transaction.atomic(), connection.cursor() as cursor:
            owner, database, schema = self._where(cursor)
            if name == owner:
                raise CommandError(NAME_IS_OWNER.format(name=name), returncode=2)
            self._create_or_alter(cursor, name, password)
            for statement in grants(name=name, database=database, schema=schema):
                cursor.execute(statement)
            # The history tables' monthly partitions are reached through their tables only.
            close_partitions_to(cursor, name)
        self.stdout.write(
            DONE.format(name=name, database=database, log=ReviewLog._meta.db_table, owner=owner)
        )

    @staticmethod
    def _where(cursor) -> tuple[str, str, str]:
        cursor.execute("SELECT current_user, current_database(), current_schema()")
        return cursor.fetchone()

    @staticmethod
    def _create_or_alter(cursor, name: str, password: str | None) -> None:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [name])
        found = cursor.fetchone()
        if found and found[0]:
            raise CommandError(NAME_IS_SUPERUSER.format(name=name), returncode=2)
        verb = sql.SQL("ALTER ROLE" if found else "CREATE ROLE")
        options = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
        statement = sql.SQL("{} {} {}").format(verb, sql.Identifier(name), options)
        if password is not None:
            statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
        cursor.execute(statement)


def grants(*, name: str, database: str, schema: str) -> list[sql.Composed]:
    """The statements that give role `name` the app's rights: everything it needs on every
    table and sequence of `schema` (now and, by default privileges, those the owner creates
    later), then UPDATE, DELETE and TRUNCATE on the review log taken back."""
    ident = {
        "role": sql.Identifier(name),
        "database": sql.Identifier(database),
        "schema": sql.Identifier(schema),
        "log": sql.Identifier(ReviewLog._meta.db_table),
    }
    return [
        sql.SQL(text).format(**ident)
        for text in (
            "GRANT CONNECT ON DATABASE {database} TO {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
            "GRANT USAGE, SELECT ON SEQUENCES TO {role}",
            "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {log} FROM {role}",
            "GRANT SELECT, INSERT ON {log} TO {role}",
        )
    ]
