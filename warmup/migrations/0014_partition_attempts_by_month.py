"""On PostgreSQL the bots' attempts become a table partitioned by month on `claimed_at`
(config/partitions.py): every row kept, indexes, constraints and grants made again under their
names, a partition per month from the oldest attempt to three months ahead, and a DEFAULT one.

It locks the attempts against every use while it copies them (bots' claims wait): at a million
phases (about 540,000 attempts) it took about 10 s; see the README, "Partitioned history".
SQLite keeps a plain table.
"""

from django.db import migrations

from config.partitions import partitioned_by_month


class Migration(migrations.Migration):
    dependencies = [("warmup", "0013_incident_spread_in_signature_index")]

    operations = [partitioned_by_month("warmup_phaseattempt")]
