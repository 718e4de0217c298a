"""On PostgreSQL the review log becomes a table partitioned by month on `created_at`
(config/partitions.py): every row kept, its append-only trigger on every partition, indexes,
constraints and grants made again under their names, a partition per month from the oldest row
to three months ahead, and a DEFAULT one. The hash chains are untouched (same rows, same ids).

It locks the log against every use while it copies it; see the README, "Partitioned history".
SQLite keeps a plain table.
"""

from django.db import migrations

from config.partitions import partitioned_by_month


class Migration(migrations.Migration):
    dependencies = [("reviews", "0011_review_log_checkpoints")]

    operations = [partitioned_by_month("reviews_reviewlog")]
