"""The bot developers' guide's complete example bot (docs/examples/example_bot.py) works as
printed: against a live server it claims a phase and completes it, reports a failure with its
category, and moves on from a lease it lost."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache

from tests.factories import AccountFactory, BotFactory, WarmupPhaseFactory
from warmup.domain.choices import PhaseStatus
from warmup.models import WarmupPhase

EXAMPLE = Path(__file__).resolve().parents[2] / "docs/examples/example_bot.py"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def example_bot(live_server, default_plan, monkeypatch):
    cache.clear()
    bot = BotFactory()
    monkeypatch.setenv("WARMUP_URL", live_server.url)
    monkeypatch.setenv("WARMUP_TOKEN", bot.token)
    spec = importlib.util.spec_from_file_location("example_bot", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module.time, "sleep", lambda seconds: None)  # the work's pretend wait
    return module


def claim(example_bot) -> dict:
    answer = example_bot.call("/phases/claim/", {})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_example_bot_claims_and_completes_a_phase(example_bot, capsys):
    phase = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)

    example_bot.work_one(claim(example_bot))

    phase.refresh_from_db()
    assert phase.status == PhaseStatus.COMPLETED
    assert f"phase {phase.pk}: complete" in capsys.readouterr().out
    assert example_bot.call("/phases/claim/", {}).status_code == 204  # nothing else is ready


def test_the_example_bot_reports_a_failure_with_its_category(example_bot, monkeypatch):
    phase = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)

    def blocked(work):
        raise example_bot.PhaseFailed("challenge_required", "SMS code asked", fingerprint="sms")

    monkeypatch.setattr(example_bot, "do_phase", blocked)
    example_bot.work_one(claim(example_bot))

    phase.refresh_from_db()
    assert phase.status == PhaseStatus.REVIEW_REQUIRED
    assert phase.last_failure_category == "challenge_required"


def test_the_example_bot_moves_on_from_a_lost_lease(example_bot, capsys):
    phase = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    work = claim(example_bot)
    WarmupPhase.objects.filter(pk=phase.pk).update(lease_token=uuid.uuid4())  # taken from it

    example_bot.work_one(work)

    assert f"phase {phase.pk}: lease lost, now in_progress" in capsys.readouterr().out
