"""The migration that hashed reviewers' API tokens (reviews 0014): a key made before it, by
Django REST framework's token table (plaintext keys), still opens the review API after it,
and nothing of the database or the admin's history holds the key any more."""

import os
import secrets
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from reviews.models import ApiToken
from tests.clients import REVIEWS
from tests.factories import UserFactory

migration = import_module("reviews.migrations.0014_api_token")

pytestmark = pytest.mark.django_db(transaction=True)  # the migration drops a table


@pytest.fixture
def legacy_table():
    """Django REST framework's token table as a database from before the migration holds it."""
    when = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE TABLE authtoken_token ("key" varchar(40) PRIMARY KEY, '
            f"created {when} NOT NULL, user_id integer NOT NULL)"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS authtoken_token")


def test_a_key_made_before_the_migration_keeps_working_and_is_stored_hashed(legacy_table):
    reviewer, other = UserFactory(reviewer=True), UserFactory(reviewer=True)
    keys = {reviewer: secrets.token_hex(20), other: secrets.token_hex(20)}
    with connection.cursor() as cursor:
        for user, key in keys.items():
            cursor.execute(
                "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
                [key, timezone.now(), user.pk],
            )
    # Django REST framework's admin named a token by its key in the admin's history.
    legacy_type = ContentType.objects.create(app_label="authtoken", model="tokenproxy")
    LogEntry.objects.create(
        user_id=other.pk,
        content_type=legacy_type,
        object_id=keys[reviewer],
        object_repr=keys[reviewer],
        action_flag=ADDITION,
    )

    with connection.schema_editor() as editor:
        migration.hash_legacy_keys(apps, editor)

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {keys[reviewer]}")
    assert api.get(REVIEWS).status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {keys[other]}")
    assert api.get(REVIEWS).status_code == 200
    # The key with its last character changed (whatever it was): a key of the right shape
    # that no row was made from.
    wrong = keys[reviewer][:-1] + ("1" if keys[reviewer].endswith("0") else "0")
    api.credentials(HTTP_AUTHORIZATION=f"Token {wrong}")
    assert api.get(REVIEWS).status_code == 401
    assert set(ApiToken.objects.values_list("user", flat=True)) == {reviewer.pk, other.pk}
    assert "authtoken_token" not in connection.introspection.table_names()
    stored = " ".join(str(v) for row in ApiToken.objects.values_list() for v in row)
    history = " ".join(f"{e.object_id} {e.object_repr}" for e in LogEntry.objects.all())
    for key in keys.values():
        assert key not in stored and key not in history


def test_a_database_without_the_old_table_has_nothing_to_convert():
    with connection.schema_editor() as editor:
        migration.hash_legacy_keys(apps, editor)

    assert ApiToken.objects.count() == 0


def test_unapplying_the_migration_refuses_rather_than_drop_every_token(tmp_path):
    # A real database of its own, migrated as `migrate` does, then asked to go back.
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    manage = [sys.executable, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=root, check=True, timeout=120)

    back = subprocess.run(
        [*manage, "migrate", "reviews", "0013"],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    shown = subprocess.run(
        [*manage, "showmigrations", "reviews"],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert back.returncode != 0
    assert "IrreversibleError" in back.stderr and "0014_api_token" in back.stderr
    assert "[X] 0014_api_token" in shown.stdout  # still applied: nothing was undone
