"""The benchmark fleet is the data the services would have left: here, its failure signatures
(set by kind of failure in SQL) are the ones each failure's own reason gives."""

from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from reviews.models import ReviewLog
from tests.conftest import requires_postgres
from warmup.domain.signatures import signature_of
from warmup.models import PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.selectors.integrity import check_integrity
from warmup.selectors.returns import returns_of


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_every_failure_of_the_fleet_has_the_signature_of_its_own_reason(fleet_filler):
    with transaction.atomic(), connection.cursor() as cursor:
        fleet_filler(cursor, 400, datetime.now(UTC).replace(microsecond=0))

    failed = PhaseAttempt.objects.exclude(failure_category="").select_related("phase")
    assert failed.count() > 40
    for attempt in failed:
        expected = signature_of(
            category=attempt.failure_category,
            phase_type=attempt.phase.phase_type,
            reason=attempt.reason,
        )
        assert attempt.signature_id == expected.key, attempt.reason
    in_review = WarmupPhase.objects.filter(status=PhaseStatus.REVIEW_REQUIRED)
    assert not in_review.filter(review_signature__isnull=True).exists()
    proxies = in_review.filter(last_failure_category="proxy_error")
    assert (
        proxies.values("last_failure_reason").distinct().count() > 1
    )  # one incident, many proxies
    assert (
        proxies.values("review_signature").distinct().count()
        == proxies.values("phase_type").distinct().count()
    )
    entries = ReviewLog.objects.filter(action="escalated")
    assert not entries.filter(signature__isnull=True).exists()
    assert check_integrity() == []  # the chains cover the signatures


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_fleet_with_history_months_fills_each_month_and_keeps_every_promise(fleet_filler):
    with transaction.atomic(), connection.cursor() as cursor:
        fleet_filler(cursor, 400, datetime.now(UTC).replace(microsecond=0), history_months=13)

    months = {
        table: set(model.objects.datetimes(column, "month"))
        for table, model, column in (
            ("attempts", PhaseAttempt, "claimed_at"),
            ("log", ReviewLog, "created_at"),
        )
    }
    assert len(months["attempts"]) >= 13 and len(months["log"]) >= 13, months
    resumed = ReviewLog.objects.filter(action="resumed", phase__status=PhaseStatus.COMPLETED)
    assert resumed.count() > 20
    # Each resumed step failed once, was escalated, and a bot then completed it.
    for row in resumed.select_related("phase")[:20]:
        assert row.phase.status == PhaseStatus.COMPLETED
        assert list(row.phase.attempts.order_by("number").values_list("outcome", flat=True)) == [
            "failed",
            "completed",
        ]
    # Some items in review came back: resumed before they failed the same way again.
    came_back = WarmupPhase.objects.filter(
        status=PhaseStatus.REVIEW_REQUIRED, last_resolved_at__isnull=False
    ).values_list("pk", flat=True)
    returns = returns_of(came_back)
    assert len(returns) == len(came_back) > 0
    assert {(one.method, one.same_way) for one in returns.values()} == {("resume", True)}
    assert check_integrity() == []
