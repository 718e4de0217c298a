"""On PostgreSQL the database itself refuses UPDATE and DELETE on the ReviewLog table.

TRUNCATE is left alone (test database flushes use it); it needs table ownership anyway.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION reviews_reviewlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'reviews_reviewlog is append-only: ' || TG_OP || ' refused',
        ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reviews_reviewlog_no_update_delete
    BEFORE UPDATE OR DELETE ON reviews_reviewlog
    FOR EACH ROW EXECUTE FUNCTION reviews_reviewlog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS reviews_reviewlog_no_update_delete ON reviews_reviewlog;
DROP FUNCTION IF EXISTS reviews_reviewlog_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
