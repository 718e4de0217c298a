# The phase keeps the moment of its last resolution that no undo took back, so "came back" (an
# item in review again after a resolution) is a column the incidents page counts from a small
# partial index, not a search of every item's review log (3.2 s of the page at ten million
# phases). The backfill sets it from the log in one UPDATE: for each phase with a resolution,
# the latest one that no undo's row names. It locks the phases it writes (those ever resolved)
# until the migration commits; the index then holds only the items in review that came back.
# Reversing drops the column and the index.

from django.conf import settings
from django.db import migrations, models
from django.db.models import BigIntegerField, Exists, OuterRef, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

RESOLVED = ["resumed", "retried", "completed", "skipped"]


def backfill(apps, schema_editor):
    WarmupPhase = apps.get_model("warmup", "WarmupPhase")
    ReviewLog = apps.get_model("reviews", "ReviewLog")
    undone = (
        ReviewLog.objects.filter(phase_id=OuterRef("phase_id"), action="resolution_undone")
        .annotate(undoes=Cast(KeyTextTransform("undoes", "data"), BigIntegerField()))
        .filter(undoes=OuterRef("pk"))
    )
    standing = ReviewLog.objects.filter(phase_id=OuterRef("pk"), action__in=RESOLVED).exclude(
        Exists(undone)
    )
    WarmupPhase.objects.filter(Exists(standing)).update(
        last_resolved_at=Subquery(standing.order_by("-id").values("created_at")[:1])
    )


class Migration(migrations.Migration):

    dependencies = [
        ('warmup', '0014_partition_attempts_by_month'),
        ('reviews', '0014_api_token'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='warmupphase',
            name='last_resolved_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name='warmupphase',
            index=models.Index(condition=models.Q(('last_resolved_at__isnull', False), ('status', 'review_required')), fields=['review_signature'], name='phase_review_returned_idx'),
        ),
    ]
