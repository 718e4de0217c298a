"""Fixtures shared by the review tests: a history of resolutions over days, built through the
real services, which the dashboard, the stats API and the review report all read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.builders import fail
from tests.factories import FIRST_STEP, new_item_in_review
from warmup.services.bot_work import phase_claim, phase_complete
from warmup.services.resolutions import review_complete, review_resume, review_retry, review_skip
from warmup.services.tick import tick

WHY = {"reason_code": "solved_challenge", "note": "solved it by hand"}


def bot_takes_it_again(phase, bot):
    """After a resume or retry: the bot claims this very phase again."""
    tick()
    claimed = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    assert claimed is not None and claimed.pk == phase.pk
    return claimed


@pytest.fixture
def history(content_pool, bot, reviewer_actor, clock):
    """Resolutions before and inside a 7-day window, with every outcome, and a queue."""
    # given: a skip 10 days ago (outside the window)
    old = new_item_in_review(bot)
    clock.shift(timedelta(minutes=30))
    review_skip(phase_id=old.pk, actor=reviewer_actor, **WHY)
    clock.shift(timedelta(days=10))
    # a resume the bot then completes (worked), after 20 min in review
    good = new_item_in_review(bot)
    clock.shift(timedelta(minutes=20))
    review_resume(phase_id=good.pk, actor=reviewer_actor, **WHY)
    claimed = bot_takes_it_again(good, bot)
    phase_complete(phase_id=good.pk, bot=bot, lease_token=claimed.lease_token)
    # a completion by hand after 5 h, and an item still open that reaches level 2 (over 4 h)
    by_hand = new_item_in_review(bot, category="content_rejected")
    waiting = new_item_in_review(bot, category="action_blocked")
    clock.shift(timedelta(hours=5))
    review_complete(phase_id=by_hand.pk, actor=reviewer_actor, **WHY)
    tick()
    # a retry after 2 h that came back to review (failed)
    bad = new_item_in_review(bot, category="login_failed")
    clock.shift(timedelta(hours=2))
    review_retry(phase_id=bad.pk, actor=reviewer_actor, **WHY)
    claimed = bot_takes_it_again(bad, bot)
    fail(claimed, bot, "login_failed")
    # a retry nobody has claimed yet (pending), after 1 h
    pending = new_item_in_review(bot)
    clock.shift(timedelta(hours=1))
    review_retry(phase_id=pending.pk, actor=reviewer_actor, **WHY)
    return {"waiting": waiting, "bad": bad}
