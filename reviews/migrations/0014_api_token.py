"""Reviewers' API tokens are stored hashed, as bots' are: reviews.ApiToken keeps a token's
prefix and SHA-256 hash, never the key.

Until now they were Django REST framework's tokens (rest_framework.authtoken, no longer
installed), whose table held every key in plaintext. Each of those keys is hashed into an
ApiToken (its first 12 characters as its prefix, the rule reviewers' old keys follow in
warmup.services.tokens), so it keeps working; then that table is dropped, the admin's history
forgets any key it named, and the roles hold the new model's permissions instead of the old.
This migration keeps its own copy of the names, as history must not change."""

import hashlib
from datetime import UTC

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

LEGACY_TABLE = "authtoken_token"
LEGACY_APP = "authtoken"
LEGACY_PREFIX = 12
REVIEWER = [
    ("reviews", "view_apitoken"),
    ("reviews", "add_apitoken"),
    ("reviews", "delete_apitoken"),
]
ROLES = ("Reviewers", "Review leads")
FORGOTTEN_KEY = "API token (made before keys were hashed)"


def _aware(value):
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return timezone.now()
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def hash_legacy_keys(apps, schema_editor):
    """Every plaintext key of the old table as an ApiToken of its user (one insert), then
    the old table dropped. Nothing to do on a database that never had it."""
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    table = schema_editor.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "key", user_id, created FROM {table}')  # noqa: S608
        rows = cursor.fetchall()
    ApiToken = apps.get_model("reviews", "ApiToken")
    ApiToken.objects.bulk_create(
        ApiToken(
            user_id=user_id,
            token_prefix=key[:LEGACY_PREFIX],
            token_hash=hashlib.sha256(key.encode()).hexdigest(),
            created_at=_aware(created),
        )
        for key, user_id, created in rows
    )
    schema_editor.execute(f"DROP TABLE {table}")
    # The admin's history named tokens by their key (Django REST framework's own pages did).
    LogEntry = apps.get_model("admin", "LogEntry")
    LogEntry.objects.filter(content_type__app_label=LEGACY_APP).exclude(
        object_repr__startswith="API token of "
    ).update(object_id=None, object_repr=FORGOTTEN_KEY)


def grant_token_permissions(apps, schema_editor):
    # Permissions are made after all migrations ran; make them now so the groups can hold them.
    app_config = apps.get_app_config("reviews")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    new = [
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in REVIEWER
    ]
    for name in ROLES:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.remove(*Permission.objects.filter(content_type__app_label=LEGACY_APP))
        group.permissions.add(*new)


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0013_archived_history"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("token_prefix", models.CharField(max_length=16, unique=True)),
                ("token_hash", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_token",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"verbose_name": "API token", "verbose_name_plural": "API tokens"},
        ),
        # One way: the plaintext keys are gone once hashed, so there is no going back to a
        # release that reads them (unapplying says so instead of dropping every token).
        migrations.RunPython(hash_legacy_keys),
        migrations.RunPython(grant_token_permissions, migrations.RunPython.noop),
    ]
