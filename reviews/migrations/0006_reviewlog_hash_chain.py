"""The ReviewLog hash chain: `previous_hash` and `hash` on every row, an index on (phase, id),
and the chains filled for the rows already there (see warmup.lifecycle.chain).

On PostgreSQL the append-only trigger refuses UPDATE, so the fill turns it off and on again
around itself, in this migration's transaction (only the table's owner, who runs migrations,
may; a rolled-back migration leaves the trigger as it was). SQLite has no trigger.
"""

from django.db import migrations, models

from warmup.lifecycle.chain import CHAIN_START, CHAINED_FIELDS, chain_of, row_hash

TRIGGER = "reviews_reviewlog_no_update_delete"
CHUNK = 2000


def _set_trigger(schema_editor, enabled: bool) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # ALTER TABLE refuses while deferred foreign key checks are pending: run them first.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    action = "ENABLE" if enabled else "DISABLE"
    schema_editor.execute(f"ALTER TABLE reviews_reviewlog {action} TRIGGER {TRIGGER}")
    schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


def fill_chains(apps, schema_editor):
    """Hash every row in chain order (phase or account, then id), CHUNK rows per UPDATE."""
    ReviewLog = apps.get_model("reviews", "ReviewLog")
    rows = ReviewLog._base_manager.using(schema_editor.connection.alias)
    # The fields hashed today that the table has at this point (the signature came later and
    # is hashed only when set).
    columns = {field.attname for field in ReviewLog._meta.concrete_fields}
    hashed = [name for name in CHAINED_FIELDS if name in columns]
    ordered = rows.order_by("phase_id", "account_id", "id").values("id", *hashed)
    _set_trigger(schema_editor, enabled=False)
    chain, previous, pending = None, CHAIN_START, []
    for values in ordered.iterator(chunk_size=CHUNK):
        key = chain_of(values["phase_id"], values["account_id"])
        if key != chain:
            chain, previous = key, CHAIN_START
        digest = row_hash(values, previous)
        pending.append(ReviewLog(id=values["id"], previous_hash=previous, hash=digest))
        previous = digest
        if len(pending) == CHUNK:
            rows.bulk_update(pending, ["previous_hash", "hash"])
            pending = []
    if pending:
        rows.bulk_update(pending, ["previous_hash", "hash"])
    _set_trigger(schema_editor, enabled=True)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0005_reviewlog_batch")]

    operations = [
        migrations.AddField(
            model_name="reviewlog",
            name="previous_hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="reviewlog",
            name="hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddIndex(
            model_name="reviewlog",
            index=models.Index(fields=["phase", "id"], name="reviewlog_chain_idx"),
        ),
        migrations.RunPython(fill_chains, migrations.RunPython.noop),
    ]
