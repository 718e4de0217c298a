"""Partitioned history: on PostgreSQL the tables that only grow, the bots' attempts and the review
log, are range-partitioned by month (on `claimed_at` and `created_at`), so a month can be
archived and dropped whole, and a query bounded in time reads only its months.

- `partition_by_month` converts a plain table into a partitioned one in place, keeping its rows,
  its name, its columns' identity sequence, its indexes, constraints and triggers under their
  own names (the migrations do this), and its grants; `unpartition` undoes it.
- `ensure_partitions` creates the partitions of the coming months ahead of time; the scheduler
  calls it (one catalog read when nothing is missing) and so does `manage.py
  history_partitions`. A row whose month has no partition lands in the table's DEFAULT
  partition; `default_rows` counts them for the integrity checker.

PostgreSQL needs the partition key in every unique constraint, so the primary key becomes
(id, month column) and `lease_token`'s and `(phase, number)`'s uniqueness hold within a month's
timestamp (ids still come from one sequence). SQLite keeps plain tables: everything here is a
no-op there.

What converting locks and how long it takes at a million phases: docs/operators.md,
"Partitioned history".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

# The tables partitioned by month, and the column each is partitioned on.
HISTORY_TABLES = {
    "warmup_phaseattempt": "claimed_at",
    "reviews_reviewlog": "created_at",
}
MONTHS_AHEAD = 3  # partitions made ahead of the current month
log = logging.getLogger("warmup.partitions")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, moment: date | datetime) -> Month:
        return cls(moment.year, moment.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        """'2026-11' -> Month(2026, 11); ValueError for anything else."""
        year, _, month = text.partition("-")
        if not (len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit()):
            raise ValueError(f"{text!r} is not a month (YYYY-MM)")
        found = cls(int(year), int(month))
        if not 1 <= found.month <= 12:
            raise ValueError(f"{text!r} is not a month (YYYY-MM)")
        return found

    def next(self, months: int = 1) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-01"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def partition_name(table: str, month: Month) -> str:
    return f"{table}_p{month.year:04d}_{month.month:02d}"


def default_name(table: str) -> str:
    return f"{table}_default"


def _one(cursor, sql: str, params=()):
    cursor.execute(sql, params)
    row = cursor.fetchone()
    return row[0] if row else None


def is_partitioned(cursor, table: str) -> bool:
    return bool(
        _one(
            cursor,
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c "
            "ON c.oid = p.partrelid WHERE c.relname = %s AND c.relnamespace = "
            "'public'::regnamespace)",
            [table],
        )
    )


def months_of(cursor, table: str) -> set[Month]:
    """The months `table` has a partition for."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
        [table],
    )
    prefix = f"{table}_p"
    found = set()
    for (name,) in cursor.fetchall():
        if name.startswith(prefix):
            year, _, month = name[len(prefix) :].partition("_")
            if year.isdigit() and month.isdigit():
                found.add(Month(int(year), int(month)))
    return found


def _create_month(cursor, table: str, month: Month) -> None:
    name = partition_name(table, month)
    cursor.execute(
        f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{table}" '
        f"FOR VALUES FROM ('{month.start}') TO ('{month.next().start}')"
    )
    only_through_parent(cursor, name)


def only_through_parent(cursor, partition: str) -> None:
    """Take back every right a role other than the owner got on `partition` (the schema's
    default privileges give the app's role the usual ones on each new table): a partition is
    read and written through its table only, whose rights (no UPDATE or DELETE on the review
    log for the app's role) are the ones PostgreSQL checks there."""
    cursor.execute(
        "SELECT DISTINCT grantee FROM information_schema.role_table_grants "
        "WHERE table_schema = 'public' AND table_name = %s AND grantee <> "
        "(SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = %s)",
        [partition, partition],
    )
    for (grantee,) in cursor.fetchall():
        cursor.execute(f'REVOKE ALL ON "{partition}" FROM "{grantee}"')


def partitions_of(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s ORDER BY c.relname",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def owns(cursor, table: str) -> bool:
    """Whether the connected role may add partitions to `table` (its owner, or a member)."""
    return bool(
        _one(
            cursor,
            "SELECT pg_has_role(current_user, relowner, 'MEMBER') FROM pg_class "
            "WHERE relname = %s AND relnamespace = 'public'::regnamespace",
            [table],
        )
    )


def _default_holds(cursor, table: str, column: str, month: Month) -> bool:
    return bool(
        _one(
            cursor,
            f'SELECT EXISTS (SELECT 1 FROM "{default_name(table)}" '
            f'WHERE "{column}" >= %s AND "{column}" < %s)',
            [month.start, month.next().start],
        )
    )


def ensure_partitions(
    connection, *, now: datetime, ahead: int = MONTHS_AHEAD, since: datetime | None = None
) -> list[str]:
    """Create the partitions of this month and the `ahead` next ones (and of every month from
    `since` on, for history written into the past: a benchmark fleet) where missing (one
    catalog read per table when none is). A month whose rows already sit in the DEFAULT
    partition is left to `manage.py history_partitions --adopt` (moving rows is not the
    scheduler's job). Returns the partitions made."""
    if connection.vendor != "postgresql":
        return []
    first, wanted = Month.of(since or now), [Month.of(now).next(n) for n in range(ahead + 1)]
    while (first.year, first.month) < (wanted[0].year, wanted[0].month):
        wanted.append(first)
        first = first.next()
    made = []
    with connection.cursor() as cursor:
        for table, column in HISTORY_TABLES.items():
            if not is_partitioned(cursor, table):
                continue
            have = months_of(cursor, table)
            missing = [month for month in wanted if month not in have]
            if missing and not owns(cursor, table):
                log.warning(
                    "history partitions missing; only the tables' owner can add them: "
                    "run manage.py history_partitions as the owner",
                    extra={"table": table, "months": [str(month) for month in missing]},
                )
                continue
            for month in missing:
                if _default_holds(cursor, table, column, month):
                    continue
                _create_month(cursor, table, month)
                made.append(partition_name(table, month))
    return made


def default_rows(connection) -> dict[str, int]:
    """Rows in each history table's DEFAULT partition (months with no partition of their own)."""
    if connection.vendor != "postgresql":
        return {}
    counts = {}
    with connection.cursor() as cursor:
        for table in HISTORY_TABLES:
            if is_partitioned(cursor, table):
                counts[table] = _one(cursor, f'SELECT count(*) FROM "{default_name(table)}"')
    return counts


def adopt_default(connection, table: str) -> list[str]:
    """Give every month that has rows in `table`'s DEFAULT partition a partition of its own and
    move those rows there (the DEFAULT partition detached meanwhile, in the caller's
    transaction; the rows keep their ids and hashes). Returns the partitions made."""
    if connection.vendor != "postgresql":
        return []
    column, default = HISTORY_TABLES[table], default_name(table)
    with connection.cursor() as cursor:
        if not is_partitioned(cursor, table):
            return []
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', \"{column}\" AT TIME ZONE 'UTC') "
            f'FROM "{default}"'
        )
        months = sorted(Month.of(row[0]) for row in cursor.fetchall())
        if not months:
            return []
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # nothing pending on the moved rows
        cursor.execute(f'ALTER TABLE "{table}" DETACH PARTITION "{default}"')
        for month in months:
            _create_month(cursor, table, month)
        cursor.execute(f'INSERT INTO "{table}" SELECT * FROM "{default}"')
        cursor.execute(f'TRUNCATE "{default}"')  # not an UPDATE or DELETE: the rows moved
        cursor.execute(f'ALTER TABLE "{table}" ATTACH PARTITION "{default}" DEFAULT')
    return [partition_name(table, month) for month in months]


def close_partitions_to(cursor, role: str) -> None:
    """Take back what `role` holds on every history partition (`manage.py create_app_role`:
    its grants on all tables reached the partitions too)."""
    for table in HISTORY_TABLES:
        for partition in partitions_of(cursor, table):
            cursor.execute(f'REVOKE ALL ON "{partition}" FROM "{role}"')


def listed(connection) -> dict[str, list[tuple[str, int]]]:
    """Each history table's partitions, oldest first, with their estimated rows."""
    if connection.vendor != "postgresql":
        return {}
    found = {}
    with connection.cursor() as cursor:
        for table in HISTORY_TABLES:
            cursor.execute(
                "SELECT c.relname, greatest(c.reltuples, 0)::bigint FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE p.relname = %s ORDER BY c.relname",
                [table],
            )
            found[table] = cursor.fetchall()
    return found


# --- Converting a table ----------------------------------------------------------------------


def _definitions(cursor, table: str) -> dict:
    """What to make again on the new table: indexes not behind a constraint, constraints
    (primary key, unique, check, foreign key) and user triggers, each as PostgreSQL prints it,
    and the grants to roles other than the owner."""
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = %s::regclass AND indexrelid NOT IN "
        "(SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'c', 'f') ORDER BY contype",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass "
        "AND NOT tgisinternal",
        [table],
    )
    triggers = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT grantee, string_agg(privilege_type, ', ') "
        "FROM information_schema.role_table_grants "
        "WHERE table_schema = 'public' AND table_name = %s AND grantee <> "
        "(SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = %s) "
        "GROUP BY grantee",
        [table, table],
    )
    grants = cursor.fetchall()
    return {"indexes": indexes, "constraints": constraints, "triggers": triggers, "grants": grants}


def _keyed(definition: str, column: str, *, partitioned: bool) -> str:
    """'PRIMARY KEY (id)' -> 'PRIMARY KEY (id, claimed_at)' for a partitioned table (PostgreSQL
    wants the partition key in each of its unique constraints), and back for a plain one."""
    head, _, rest = definition.partition("(")
    columns, _, tail = rest.partition(")")
    names = [name.strip() for name in columns.split(",")]
    names = [name for name in names if name != column] + ([column] if partitioned else [])
    return f"{head}({', '.join(names)}){tail}"


def _rebuild(cursor, table: str, column: str, *, partitioned: bool, months: list[Month]) -> None:
    """Move `table`'s rows into a new table of the same name, partitioned by month on `column`
    (or plain), with its indexes, constraints, triggers and grants made again under their
    names. Runs in the caller's transaction, the old table locked against every other use."""
    cursor.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
    # Foreign keys checked at commit would hold the old table: check them now.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    found = _definitions(cursor, table)
    old = f"{table}_old"
    # The identity sequence's name goes to the new table's (it stays what Django knows).
    sequence = _one(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [table])
    cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {sequence.split('.')[-1][:55]}_old")
    cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    # Index names are the schema's: the old table's step aside for the new ones.
    cursor.execute(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass", [old]
    )
    for (index,) in cursor.fetchall():
        cursor.execute(f"ALTER INDEX {index} RENAME TO {index.strip(chr(34))[:50]}_old")
    partition_by = f' PARTITION BY RANGE ("{column}")' if partitioned else ""
    cursor.execute(
        f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY '
        f"INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS){partition_by}"
    )
    if partitioned:
        for month in months:
            _create_month(cursor, table, month)
        cursor.execute(f'CREATE TABLE "{default_name(table)}" PARTITION OF "{table}" DEFAULT')
        only_through_parent(cursor, default_name(table))
    cursor.execute(f'INSERT INTO "{table}" SELECT * FROM "{old}"')
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
        f'(SELECT COALESCE(max(id), 0) + 1 FROM "{old}"), false)',
        [table],
    )
    for name, kind, definition in found["constraints"]:
        if kind in ("p", "u"):
            definition = _keyed(definition, column, partitioned=partitioned)
        cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    for _, definition in found["indexes"]:
        cursor.execute(definition.replace(f" ONLY public.{table} ", f" public.{table} "))
    for definition in found["triggers"]:
        cursor.execute(definition)
    for grantee, privileges in found["grants"]:
        cursor.execute(f'GRANT {privileges} ON "{table}" TO "{grantee}"')
    cursor.execute(f'DROP TABLE "{old}"')
    cursor.execute(f'ANALYZE "{table}"')


def partition_by_month(connection, table: str, *, now: datetime) -> None:
    """Convert `table` (one of HISTORY_TABLES) into a table partitioned by month: a partition
    for every month from its oldest row to MONTHS_AHEAD after `now`, and a DEFAULT one. A no-op
    on SQLite or when it already is."""
    if connection.vendor != "postgresql":
        return
    column = HISTORY_TABLES[table]
    with connection.cursor() as cursor:
        if is_partitioned(cursor, table):
            return
        oldest = _one(cursor, f'SELECT min("{column}") FROM "{table}"')
        first = Month.of(oldest) if oldest else Month.of(now)
        last = Month.of(now).next(MONTHS_AHEAD)
        months, month = [], first
        while (month.year, month.month) <= (last.year, last.month):
            months.append(month)
            month = month.next()
        _rebuild(cursor, table, column, partitioned=True, months=months)


def unpartition(connection, table: str) -> None:
    """Make a partitioned history table plain again, rows and all (the migration's undo)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if not is_partitioned(cursor, table):
            return
        _rebuild(cursor, table, HISTORY_TABLES[table], partitioned=False, months=[])


def partitioned_by_month(table: str):
    """The migration operation that makes `table` partitioned by month (`partition_by_month`),
    undone by `unpartition`."""
    from django.db import migrations
    from django.utils import timezone

    def forward(apps, schema_editor):
        partition_by_month(schema_editor.connection, table, now=timezone.now())

    def backward(apps, schema_editor):
        unpartition(schema_editor.connection, table)

    return migrations.RunPython(forward, backward)


# --- Archiving a month ------------------------------------------------------------------------
# `manage.py archive_history` and `restore_history` (warmup.services.history) decide what may
# go; the statements that move a month out of its table and back are here.


def columns_of(cursor, table: str) -> list[str]:
    """`table`'s columns in their order (what a COPY of `SELECT *` writes)."""
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def default_holds_before(cursor, table: str, month: Month) -> bool:
    """Whether `table`'s DEFAULT partition holds rows of months before `month`."""
    column = HISTORY_TABLES[table]
    return bool(
        _one(
            cursor,
            f'SELECT EXISTS (SELECT 1 FROM "{default_name(table)}" WHERE "{column}" < %s)',
            [month.start],
        )
    )


def copy_month_out(cursor, table: str, month: Month, write) -> None:
    """Stream `month`'s partition of `table` to `write(bytes)` in COPY's text format, one line a
    row, its columns in `columns_of(table)`'s order (the caller holds the partition locked)."""
    name = partition_name(table, month)
    with cursor.cursor.copy(f'COPY (SELECT * FROM "{name}") TO STDOUT') as copy:
        for data in copy:
            write(bytes(data))


def drop_month(cursor, table: str, month: Month) -> None:
    """Detach `month`'s partition from `table` and drop it, in the caller's transaction.

    Not CONCURRENTLY: PostgreSQL refuses a concurrent detach while the table has a DEFAULT
    partition (these tables always have one, for strays) and inside a transaction (the
    archive's bookkeeping must commit with the drop). A plain DETACH takes an ACCESS EXCLUSIVE
    lock on the table for the moment it runs (a catalog change, no scan); while it waits for a
    long reader, every session that comes after it waits behind it, so the caller keeps that
    wait short (`lock_timeout`) and tries again later rather than queueing the bots."""
    name = partition_name(table, month)
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # nothing pending on the dropped rows
    cursor.execute(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"')
    cursor.execute(f'DROP TABLE "{name}"')


def load_month(cursor, table: str, month: Month, columns: list[str], read) -> int:
    """Load COPY text that `read(size)` gives into a new table of its own shaped like `table`,
    named as `month`'s partition (out of everyone's way: no lock on `table` beyond reading its
    shape). Returns the rows loaded; `attach_month` makes it the month's partition; the
    caller's transaction keeps or undoes all of it."""
    name = partition_name(table, month)
    cursor.execute(
        f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
        f"INCLUDING STORAGE)"
    )
    quoted = ", ".join(f'"{column}"' for column in columns)
    with cursor.cursor.copy(f'COPY "{name}" ({quoted}) FROM STDIN') as copy:
        while data := read(1 << 20):
            copy.write(data)
    return _one(cursor, f'SELECT count(*) FROM "{name}"')


def attach_month(cursor, table: str, month: Month) -> None:
    """Attach the table `load_month` made as `month`'s partition of `table` (PostgreSQL builds
    its indexes, copies the table's triggers, checks its foreign keys and bounds, taking the
    locks docs/operators.md lists; the caller's `lock_timeout` bounds the wait for them)."""
    name = partition_name(table, month)
    cursor.execute(
        f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" '
        f"FOR VALUES FROM ('{month.start}') TO ('{month.next().start}')"
    )
    only_through_parent(cursor, name)
