"""A longer schemathesis run over the whole OpenAPI schema than test_schema.py's quick one: more
examples per operation, valid and invalid ones, another seed, and a check that every operation
refuses a request without credentials. Bounded: at most MAX_EXAMPLES per operation and
BUDGET_SECONDS of requests per operation (about a minute in all); examples generated after an
operation's budget is spent are not sent.

Expected: no 5xx, every answer of a documented status with the documented body and content
type, and 401 without credentials."""

from __future__ import annotations

import time

import pytest
import schemathesis
from django.core.cache import cache
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.config.test_schema import SCHEMA_URL, in_test_transaction, seeded_path_ids
from tests.factories import (
    AccountFactory,
    BotFactory,
    UserFactory,
    WarmupPhaseFactory,
    api_token_key,
)

MAX_EXAMPLES = 150
BUDGET_SECONDS = 3.5
SEED = 20250117

CONFIG = SchemathesisConfig.from_dict({"seed": SEED, "generation": {"max-examples": MAX_EXAMPLES}})

with override_settings(ALLOWED_HOSTS=["localhost"]):
    schema = schemathesis.openapi.from_wsgi(
        SCHEMA_URL + "?format=json", in_test_transaction, config=CONFIG
    )

# Ids of objects the running test seeded, so generated path parameters hit real phases and
# accounts as well as unknown ids.
KNOWN: dict[str, list[int]] = {}
STARTED: dict[str, float] = {}


schema.hook(seeded_path_ids(KNOWN))


@pytest.fixture(autouse=True)
def _localhost(settings):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]


@pytest.fixture
def seeded(db, content_pool):
    """Phases in every state, two bots, a review lead (who may do everything the review API
    offers, account pauses included)."""
    bot, other = BotFactory(), BotFactory()
    in_review = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    second = WarmupPhaseFactory(
        account=AccountFactory(), bot=bot, in_review=True, category="login_failed"
    )
    done = WarmupPhaseFactory(account=AccountFactory(), bot=bot, completed=True)
    held = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_progress=True)
    foreign = WarmupPhaseFactory(
        account=AccountFactory(platform="tiktok"), bot=other, in_progress=True
    )
    waiting = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    AccountFactory()  # available, no content yet
    lead = UserFactory(lead=True)
    KNOWN["phase_id"] = [in_review.pk, second.pk, done.pk, held.pk, foreign.pk, waiting.pk]
    KNOWN["account_id"] = [in_review.account_id, done.account_id, held.account_id]
    KNOWN["signature"] = [in_review.review_signature_id]
    return {
        "bot": {"Authorization": f"Bearer {bot.token}"},
        "reviewer": {"Authorization": f"Token {api_token_key(lead)}"},
    }


def within_budget(label: str) -> bool:
    started = STARTED.setdefault(label, time.monotonic())
    return time.monotonic() - started < BUDGET_SECONDS


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_schema_under_many_generated_requests(case, seeded):
    if not within_budget(case.operation.label):
        return
    cache.clear()  # the bot's rate limit is not what this test is about
    headers = seeded["bot"] if case.path.startswith("/api/v1/bot/") else seeded["reviewer"]
    case.call_and_validate(
        headers=headers,
        checks=[
            schemathesis.checks.not_a_server_error,
            schemathesis.checks.response_schema_conformance,
            schemathesis.checks.status_code_conformance,
            schemathesis.checks.content_type_conformance,
            schemathesis.checks.ignored_auth,
        ],
    )
