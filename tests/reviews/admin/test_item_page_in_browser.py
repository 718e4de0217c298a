"""The item page in a real browser (Debian's Chromium, as tests/reviews/admin/test_in_browser.py
drives it): a held item shows the hold, not the failure before it; a recategorised item says
from what to what; Resume and Retry say what they will do (issue #18)."""

import pytest

from tests.browser import log_in, reviewer_user, shot
from tests.builders import fail, reload
from tests.factories import WarmupPhaseFactory
from warmup.domain.actors import Actor
from warmup.domain.choices import ResolutionMethod
from warmup.domain.text import action_effect
from warmup.models import PhaseStatus
from warmup.services.bot_work import phase_claim
from warmup.services.review import review_hold, review_recategorize

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("default_plan"),
]

HOLD_NOTE = "Checking the proxy by hand before bots go on"


def test_a_reviewer_reads_a_held_item_and_a_recategorised_one(page, content_pool, bot):
    # given: a phase that failed with a network error, then held by a reviewer before its
    # retry, and an item whose challenge a reviewer recategorised as a proxy error
    user = reviewer_user()
    actor = Actor.for_user(user)
    held = WarmupPhaseFactory(content_assigned=True)
    fail(phase_claim(bot=bot, phase_types=[held.phase_type]), bot, "network_error")
    assert reload(held).status == PhaseStatus.CONTENT_ASSIGNED
    review_hold(phase_id=held.pk, note=HOLD_NOTE, actor=actor)
    recategorised = WarmupPhaseFactory(in_review=True, bot=bot, category="challenge_required")
    review_recategorize(
        phase_id=recategorised.pk, category="proxy_error", note="The proxy was dead", actor=actor
    )

    # when: the reviewer opens the held item
    log_in(page, user)
    page.goto(f"/admin/reviews/reviewitem/{held.pk}/change/")
    shot(page, "item-held")

    # then: its failure is the hold, with the note; the network error is in the attempts
    facts = page.locator(".item-facts").nth(1)
    assert "Held by a reviewer" in facts.inner_text()
    assert HOLD_NOTE in facts.inner_text()
    attempts = page.locator(".module", has=page.locator("h2", has_text="Attempts"))
    assert "Network error" in attempts.inner_text()
    # and Resume and Retry say what they will do, under their buttons
    effects = page.locator(".review-actions .effect").all_inner_texts()
    assert action_effect(ResolutionMethod.RESUME) in effects
    assert action_effect(ResolutionMethod.RETRY) in effects
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400

    # when: they open the recategorised item
    page.goto(f"/admin/reviews/reviewitem/{recategorised.pk}/change/")
    shot(page, "item-recategorised")

    # then: its history says from what to what, and its attempt is marked
    history = page.locator(".timeline li", has_text="Recategorised")
    assert "Category from Challenge required to Proxy error" in history.inner_text()
    attempts = page.locator(".module", has=page.locator("h2", has_text="Attempts"))
    assert "recategorised as Proxy error" in attempts.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
