"""Every recorded failure gets its signature: a bot's report (or its own fingerprint), an
expired lease, a hold. It is stored on the attempt, on the phase that goes to review and on the
review log's row, and a migration gives the rows from before theirs."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection

from reviews.models import ReviewLog
from tests.builders import fail, first_phase, reload
from tests.factories import AccountFactory, WarmupPhaseFactory
from tests.integrity import assert_integrity
from warmup.domain.choices import ReviewAction
from warmup.domain.signatures import signature_of
from warmup.models import FailureSignature, PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.services.review import review_hold
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("warmup.migrations.0011_backfill_signatures").backfill


def claimed(bot, account=None):
    return WarmupPhaseFactory(account=account or AccountFactory(), bot=bot, in_progress=True)


def test_a_failure_report_stores_its_signature_on_the_attempt(content_pool, bot):
    phase = claimed(bot)
    outcome = fail(phase, bot, "proxy_error", reason="Proxy 10.1.2.3:8080 refused the connection")

    expected = signature_of(
        category="proxy_error",
        phase_type=phase.phase_type,
        reason="Proxy 10.1.2.3:8080 refused the connection",
    )
    attempt = PhaseAttempt.objects.get(phase=phase)
    assert attempt.signature_id == expected.key == outcome.signature
    stored = FailureSignature.objects.get(pk=expected.key)
    assert (
        stored.title
        == f"proxy_error on {phase.phase_type}: Proxy <ip>:<port> refused the connection"
    )
    assert (stored.category, stored.phase_type) == ("proxy_error", phase.phase_type)
    # A retried failure leaves the phase's review signature alone: it is not in review.
    assert reload(phase).status == PhaseStatus.CONTENT_ASSIGNED
    assert reload(phase).review_signature_id is None


def test_two_proxies_failing_the_same_way_share_one_signature(content_pool, bot):
    first, second = claimed(bot), claimed(bot)
    fail(first, bot, "proxy_error", reason="Proxy 10.1.2.3:8080 refused the connection")
    fail(second, bot, "proxy_error", reason="Proxy 172.16.0.9:3128 refused the connection")

    keys = set(PhaseAttempt.objects.values_list("signature_id", flat=True))
    assert len(keys) == 1
    assert FailureSignature.objects.count() == 1


def test_an_escalated_failure_puts_its_signature_on_the_phase_and_the_log(content_pool, bot):
    phase = claimed(bot)
    outcome = fail(phase, bot, "login_failed", reason="Password rejected for rita", retryable=False)

    phase = reload(phase)
    assert phase.status == PhaseStatus.REVIEW_REQUIRED
    assert phase.review_signature_id == outcome.signature
    row = ReviewLog.objects.get(phase=phase, action=ReviewAction.ESCALATED)
    assert row.signature_id == outcome.signature
    assert_integrity()  # the hash chain covers the signature


def test_the_bots_fingerprint_wins_over_the_reason(content_pool, bot):
    first, second = claimed(bot), claimed(bot)
    fail(first, bot, "bot_error", reason="Crop failed: image 1", fingerprint="avatar-crop")
    fail(second, bot, "bot_error", reason="Totally different words", fingerprint="avatar-crop")

    keys = set(PhaseAttempt.objects.values_list("signature_id", flat=True))
    expected = signature_of(
        category="bot_error", phase_type=first.phase_type, reason="x", fingerprint="avatar-crop"
    )
    assert keys == {expected.key}


def test_an_expired_lease_gets_a_signature(content_pool, bot, clock):
    phase = claimed(bot)
    clock.move_to(phase.lease_expires_at + timedelta(seconds=1))
    tick()

    attempt = PhaseAttempt.objects.get(phase=phase)
    assert attempt.failure_category == "lease_expired"
    assert attempt.signature.category == "lease_expired"
    assert attempt.signature.title.startswith(f"lease_expired on {phase.phase_type}: ")


def test_a_hold_is_its_own_signature_with_the_note_as_reason(content_pool, bot, reviewer_actor):
    phase = first_phase(AccountFactory())
    review_hold(phase_id=phase.pk, note="Bio looks off for order 12", actor=reviewer_actor)

    phase = reload(phase)
    signature = phase.review_signature
    assert (signature.category, signature.phase_type) == ("held", phase.phase_type)
    assert signature.title == f"held on {phase.phase_type}: Bio looks off for order <n>"
    assert (
        ReviewLog.objects.get(phase=phase, action=ReviewAction.HELD).signature_id == signature.key
    )


def test_the_migration_gives_rows_from_before_signatures_theirs(content_pool, bot, reviewer_actor):
    # given: failures of every kind, then their signatures wiped as before the migration
    retried, escalated = claimed(bot), claimed(bot)
    fail(retried, bot, "proxy_error", reason="Proxy 10.1.2.3:8080 refused the connection")
    fail(escalated, bot, "login_failed", reason="Password rejected", retryable=False)
    held = first_phase(AccountFactory())
    review_hold(phase_id=held.pk, note="Check the avatar", actor=reviewer_actor)
    expected_attempts = dict(PhaseAttempt.objects.values_list("pk", "signature_id"))
    expected_phases = dict(
        WarmupPhase.objects.filter(status=PhaseStatus.REVIEW_REQUIRED).values_list(
            "pk", "review_signature_id"
        )
    )
    PhaseAttempt.objects.update(signature=None)
    WarmupPhase.objects.update(review_signature=None)
    # The append-only log keeps its rows' signatures; the others go, to be made again.
    FailureSignature.objects.exclude(
        pk__in=ReviewLog.objects.filter(signature__isnull=False).values("signature")
    ).delete()
    assert FailureSignature.objects.filter(category="proxy_error").count() == 0

    # when
    backfill(apps, connection.schema_editor())

    # then: the same signatures as the live path wrote, titles and all
    assert dict(PhaseAttempt.objects.values_list("pk", "signature_id")) == expected_attempts
    assert (
        dict(
            WarmupPhase.objects.filter(status=PhaseStatus.REVIEW_REQUIRED).values_list(
                "pk", "review_signature_id"
            )
        )
        == expected_phases
    )
    assert set(FailureSignature.objects.values_list("title", flat=True)) >= {
        f"proxy_error on {retried.phase_type}: Proxy <ip>:<port> refused the connection",
        f"held on {held.phase_type}: Check the avatar",
    }
