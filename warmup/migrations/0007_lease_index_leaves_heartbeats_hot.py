"""A heartbeat writes no indexed column of a phase (the lease sweep's index is keyed on the id,
not the lease's end), and the phases table leaves a tenth of each page free on PostgreSQL, so a
heartbeat's new row version fits beside the old one: a HOT update, with no index entry added."""

from django.db import migrations, models

FILLFACTOR = 90


def leave_room(apps, schema_editor, fillfactor=FILLFACTOR):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE warmup_warmupphase SET (fillfactor = {fillfactor})")


def take_room_back(apps, schema_editor):
    leave_room(apps, schema_editor, fillfactor=100)


class Migration(migrations.Migration):
    dependencies = [
        ("warmup", "0006_review_queue_index_covers_filters"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="warmupphase",
            name="phase_lease_expiry_idx",
        ),
        migrations.AddIndex(
            model_name="warmupphase",
            index=models.Index(
                condition=models.Q(("status", "in_progress")),
                fields=["id"],
                name="phase_lease_expiry_idx",
            ),
        ),
        migrations.RunPython(leave_room, take_room_back),
    ]
