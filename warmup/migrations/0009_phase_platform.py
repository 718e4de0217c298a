"""The account's platform on each phase (an account keeps it for life), filled in for the
phases there are, and an index of the review queue by it: the queue's platform filter then
reads a range of that index instead of joining every item in review to its account."""

from django.db import migrations, models

FILL = """
UPDATE warmup_warmupphase SET platform = (
    SELECT platform FROM warmup_account WHERE warmup_account.id = warmup_warmupphase.account_id
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("warmup", "0008_review_queue_filter_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="warmupphase",
            name="platform",
            field=models.CharField(
                choices=[
                    ("instagram", "Instagram"),
                    ("tiktok", "TikTok"),
                    ("x", "X"),
                    ("facebook", "Facebook"),
                    ("youtube", "YouTube"),
                ],
                default="",
                editable=False,
                max_length=20,
            ),
            preserve_default=False,
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="warmupphase",
            index=models.Index(
                condition=models.Q(("status", "review_required")),
                fields=["platform", "-escalation_level", "review_required_since", "id"],
                name="phase_review_by_platform_idx",
            ),
        ),
    ]
