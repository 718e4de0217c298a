"""A bot developer's way in: generate a Python client from the served schema with
openapi-python-client, as docs/bots.md shows, and drive a bot's cycle and a reviewer's resolution
through it with no hand-written HTTP. Any generator warning fails the test: a warning means a
part of the API the client cannot call or read."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from django.core.cache import cache

from tests.factories import (
    AccountFactory,
    BotFactory,
    UserFactory,
    WarmupPhaseFactory,
    api_token_key,
)

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "warmup_client"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not GENERATOR.exists(), reason="openapi-python-client is not installed (the dev extra)"
    ),
]


@pytest.fixture
def generated(live_server, default_plan, tmp_path):
    """The client package generated from the live server's schema, imported."""
    cache.clear()
    schema = tmp_path / "schema.json"
    schema.write_bytes(
        requests.get(live_server.url + "/api/schema/?format=json", timeout=10).content
    )
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: the code as generated
    run = subprocess.run(
        [GENERATOR, "generate", "--path", schema, "--meta", "none"]
        + ["--output-path", tmp_path / PACKAGE, "--config", config],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE), live_server.url
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_a_generated_client_runs_a_bot_cycle(generated, content_pool):
    client, url = generated
    bot_api = importlib.import_module(f"{PACKAGE}.api.bot")
    models = importlib.import_module(f"{PACKAGE}.models")
    for name in ("bot_claim", "bot_heartbeat", "bot_fail", "bot_complete", "bot_phase"):
        importlib.import_module(f"{PACKAGE}.api.bot.{name}")
    bot = BotFactory()
    as_bot = client.AuthenticatedClient(base_url=url, token=bot.token)  # sends "Bearer"
    WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)

    phase = bot_api.bot_claim.sync(client=as_bot, body=models.ClaimInputRequest())
    assert isinstance(phase, models.BotPhase) and isinstance(phase.lease_token, uuid.UUID)
    lease = models.LeaseInputRequest(lease_token=phase.lease_token)
    beat = bot_api.bot_heartbeat.sync(phase.id, client=as_bot, body=lease)
    assert isinstance(beat, models.Heartbeat)
    outcome = bot_api.bot_fail.sync(
        phase.id,
        client=as_bot,
        body=models.FailInputRequest(
            lease_token=phase.lease_token,
            category=models.FailureCategoryEnum.NETWORK_ERROR,
            reason="timeout",
        ),
    )
    assert outcome.outcome == models.FailureDecisionEnum.RETRY_SCHEDULED
    assert outcome.failure.at is not None
    other = bot_api.bot_claim.sync(client=as_bot, body=models.ClaimInputRequest())
    assert other.id != phase.id
    done = bot_api.bot_complete.sync(
        other.id,
        client=as_bot,
        body=models.CompleteInputRequest(lease_token=other.lease_token),
    )
    assert done.status == models.PhaseStatusEnum.COMPLETED
    assert done.content.media_url is None  # null, not "", for no media
    read = bot_api.bot_phase.sync(phase.id, client=as_bot)
    assert read.last_failure.category == models.FailureCategoryEnum.NETWORK_ERROR
    replay = bot_api.bot_complete.sync(
        other.id, client=as_bot, body=models.CompleteInputRequest(lease_token=other.lease_token)
    )
    assert replay == done  # a report sent twice gets the same answer
    stale = bot_api.bot_complete.sync(
        phase.id, client=as_bot, body=models.CompleteInputRequest(lease_token=uuid.uuid4())
    )
    assert isinstance(stale, models.Error) and stale.code == "lease_lost"


def test_a_generated_client_lists_reads_and_resolves_a_review_item(generated, content_pool):
    client, url = generated
    models = importlib.import_module(f"{PACKAGE}.models")
    reviews_api = {
        name: importlib.import_module(f"{PACKAGE}.api.reviews.reviews_{name}")
        for name in ("list", "retrieve", "assign", "resolve", "stats")
    }
    item = WarmupPhaseFactory(
        account=AccountFactory(), bot=BotFactory(), in_review=True, category="login_failed"
    )
    reviewer = UserFactory(reviewer=True)
    as_reviewer = client.AuthenticatedClient(base_url=url, token=api_token_key(reviewer))

    page = reviews_api["list"].sync(
        client=as_reviewer, category=[models.ReviewsListCategoryItem.LOGIN_FAILED]
    )
    assert [row.id for row in page.results] == [item.pk]
    assert page.next_ is None
    detail = reviews_api["retrieve"].sync(item.pk, client=as_reviewer)
    assert detail.assignee is None and detail.completion_method is None
    assigned = reviews_api["assign"].sync(
        item.pk, client=as_reviewer, body=models.AssignInputRequest()
    )
    assert assigned.assignee.username == reviewer.username
    resolved = reviews_api["resolve"].sync(
        item.pk,
        client=as_reviewer,
        body=models.ResolveInputRequest(
            action=models.ResolutionMethodEnum.RESUME,
            reason_code=models.ReasonCodeEnum.FIXED_CREDENTIALS,
            note="new password set",
        ),
    )
    assert resolved.status == models.PhaseStatusEnum.AVAILABLE
    history = reviews_api["retrieve"].sync(item.pk, client=as_reviewer).review_log
    resolution = next(row for row in history if row.resolution_method)
    assert resolution.reason_code == models.ReasonCodeEnum.FIXED_CREDENTIALS
    assert resolution.time_in_review >= 0
    stats = reviews_api["stats"].sync(client=as_reviewer)
    assert stats.resolutions["resume"].count == 1
