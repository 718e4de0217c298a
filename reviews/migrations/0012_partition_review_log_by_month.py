"""On PostgreSQL the review log becomes a table partitioned by month on `created_at`
(config/partitions.py): every row kept, its append-only trigger on every partition, indexes,
constraints and grants made again under their names, a partition per month from the oldest row
to three months ahead, and a DEFAULT one. The hash chains are untouched (same rows, same ids).

It locks the log against every use while it copies it; see the README, "Partitioned history".
SQLite keeps a plain table.
"""

from django.db import migrations
from django.utils import timezone

from config.partitions import partition_by_month, unpartition

TABLE = "reviews_reviewlog"


def forward(apps, schema_editor):
    partition_by_month(schema_editor.connection, TABLE, now=timezone.now())


def backward(apps, schema_editor):
    unpartition(schema_editor.connection, TABLE)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0011_review_log_checkpoints")]

    operations = [migrations.RunPython(forward, backward)]
