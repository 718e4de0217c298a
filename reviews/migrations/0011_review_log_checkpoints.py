"""Review log checkpoints (warmup.services.checkpoints) and the chain heads each one saw; on
PostgreSQL the database refuses UPDATE and DELETE on both, as it does on the log (0002)."""

from django.db import migrations, models

TABLES = ("reviews_reviewlogcheckpoint", "reviews_reviewlogcheckpointhead")

CREATE = """
CREATE OR REPLACE FUNCTION reviews_checkpoint_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused',
        ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
""" + "".join(
    f"""
CREATE TRIGGER {table}_no_update_delete
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION reviews_checkpoint_append_only();
"""
    for table in TABLES
)

DROP = "".join(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table};\n" for table in TABLES)
DROP += "DROP FUNCTION IF EXISTS reviews_checkpoint_append_only();\n"


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0010_breaker_actions"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReviewLogCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField(unique=True)),
                ("created_at", models.DateTimeField()),
                ("last_row", models.BigIntegerField()),
                ("rows", models.BigIntegerField()),
                ("chains", models.BigIntegerField()),
                ("root", models.CharField(max_length=64)),
                ("mac", models.CharField(max_length=64)),
            ],
            options={
                "ordering": ["-number"],
            },
        ),
        migrations.CreateModel(
            name="ReviewLogCheckpointHead",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField()),
                ("kind", models.CharField(max_length=7)),
                ("chain", models.BigIntegerField()),
                ("row", models.BigIntegerField()),
                ("hash", models.CharField(max_length=64)),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["kind", "chain", "-number"], name="checkpointhead_chain_idx"
                    )
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
