"""Give the failures recorded before signatures existed their signature, set-based.

Attempts: the distinct (category, phase type, reason) of the failed attempts are read once,
each gets its signature, and one UPDATE per signature and phase type sets it on every attempt
with one of its reasons (a signature stands for many reasons, so there are far fewer UPDATEs
than attempts). Phases in review: the signature of what sent them there, their last failure or,
for a hold, the hold's note. The rows of the review log written before keep no signature (the
suggestions fall back to the failure category for them). Reversing leaves the columns empty.
"""

from collections import defaultdict

from django.db import migrations
from django.db.models import Min, OuterRef, Subquery

from warmup.domain.choices import HELD, ReviewAction
from warmup.domain.signatures import signature_of

CHUNK = 500  # reasons per UPDATE


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def backfill(apps, schema_editor):
    from django.utils import timezone

    FailureSignature = apps.get_model("warmup", "FailureSignature")
    PhaseAttempt = apps.get_model("warmup", "PhaseAttempt")
    WarmupPhase = apps.get_model("warmup", "WarmupPhase")
    ReviewLog = apps.get_model("reviews", "ReviewLog")

    found, reasons_of = {}, defaultdict(list)
    failed = (
        PhaseAttempt.objects.exclude(failure_category="")
        .values_list("failure_category", "phase__phase_type", "reason")
        .annotate(first=Min("finished_at"))
        .order_by()
    )
    for category, phase_type, reason, first in failed.iterator():
        signature = signature_of(category=category, phase_type=phase_type, reason=reason)
        seen = found.get(signature.key)
        found[signature.key] = (signature, min(first, seen[1]) if seen else first)
        reasons_of[(signature.key, category, phase_type)].append(reason)

    now = timezone.now()
    in_review = []
    last_entry = ReviewLog.objects.filter(
        phase_id=OuterRef("pk"), action__in=[ReviewAction.ESCALATED, ReviewAction.HELD]
    ).order_by("-id")
    for pk, phase_type, category, reason, entry, note in (
        WarmupPhase.objects.filter(status="review_required")
        .annotate(
            entry=Subquery(last_entry.values("action")[:1]),
            note=Subquery(last_entry.values("note")[:1]),
        )
        .values_list("pk", "phase_type", "last_failure_category", "last_failure_reason", "entry",
                     "note")
        .iterator()
    ):  # fmt: skip
        if entry == ReviewAction.HELD or not category:
            signature = signature_of(category=HELD, phase_type=phase_type, reason=note or "")
        else:
            signature = signature_of(category=category, phase_type=phase_type, reason=reason)
        found.setdefault(signature.key, (signature, now))
        in_review.append((pk, signature.key))

    FailureSignature.objects.bulk_create(
        [
            FailureSignature(
                key=s.key,
                title=s.title,
                category=s.category,
                phase_type=s.phase_type,
                first_seen_at=first or now,
            )
            for s, first in found.values()
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    for (key, category, phase_type), reasons in reasons_of.items():
        for chunk in _chunks(reasons):
            PhaseAttempt.objects.filter(
                failure_category=category, phase__phase_type=phase_type, reason__in=chunk
            ).update(signature_id=key)
    phases_of = defaultdict(list)
    for pk, key in in_review:
        phases_of[key].append(pk)
    for key, pks in phases_of.items():
        for chunk in _chunks(pks):
            WarmupPhase.objects.filter(pk__in=chunk).update(review_signature_id=key)


class Migration(migrations.Migration):
    dependencies = [
        ("warmup", "0010_failure_signatures"),
        ("reviews", "0008_review_log_signature"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
