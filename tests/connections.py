"""Connections of a test's own to the test database, outside Django's (another session: a
second bot, a long reader, the app's database role)."""

import psycopg
from django.db import connection


def raw_connection(
    *, user: str | None = None, password: str | None = None, autocommit: bool = False
) -> psycopg.Connection:
    """A new session on the test database, as Django's user unless `user` is given."""
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"],
        user=user or db["USER"],
        password=(password if user else db["PASSWORD"]) or None,
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        autocommit=autocommit,
    )
