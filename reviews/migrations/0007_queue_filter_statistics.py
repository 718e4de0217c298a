"""On PostgreSQL, statistics on how the review queue's filters go together with the status, so
the planner knows that, say, a third of the items in review failed with proxy_error (and not a
third of a million phases): the queue's first page with a filter then walks
`phase_review_queue_idx` in order and stops after 50 rows (about 9 ms at 1,000,000 phases),
where it read and sorted every match (about 100 ms).

Column by column, the planner multiplies the share of 'review_required' by the share of a
category over the whole table (almost all phases have none) and expects a handful of rows.
"""

from django.db import migrations

# (statistics name, the filtered column): each paired with the status.
STATISTICS = (
    ("phase_review_category_stats", "last_failure_category"),
    ("phase_review_type_stats", "phase_type"),
    ("phase_review_assignee_stats", "review_assignee_id"),
    ("phase_review_bot_stats", "bot_id"),
)


def create_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in STATISTICS:
        schema_editor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {name} (mcv, dependencies) "
            f"ON status, {column} FROM warmup_warmupphase"
        )
    # Gathered now (a sample of the table, seconds at a million phases), not at the next
    # autovacuum.
    schema_editor.execute("ANALYZE warmup_warmupphase")


def drop_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0006_reviewlog_hash_chain"),
        ("warmup", "0005_simulation_marks"),
    ]

    operations = [migrations.RunPython(create_statistics, drop_statistics)]
