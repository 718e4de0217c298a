"""Items that came back: read from the review log, set-based, for a page of the queue and for
the incidents."""

from datetime import timedelta

import pytest

from reviews.models import ReviewLog
from tests.factories import UserFactory, WarmupPhaseFactory, new_item_in_review
from tests.resolved import CAME_BACK, PENDING, WORKED, resolve_then, resolved_then_undone
from warmup.domain.actors import Actor
from warmup.domain.choices import AUTOMATED_RESOLUTIONS, ENTERS_REVIEW
from warmup.models import CompletionMethod, FailureSignature
from warmup.selectors.analytics import resolution_outcome
from warmup.selectors.returns import RESOLVED, returned_counts, returns_of
from warmup.services.resolutions import review_resolve
from warmup.services.review import review_hold

pytestmark = pytest.mark.django_db

OTHER_REASON = "Instagram wants a selfie video"
APART = timedelta(minutes=3)  # between a resolution and its undo (within a bot's lease)


@pytest.fixture
def rita(db):
    return Actor.for_user(UserFactory(username="rita", reviewer=True))


def test_an_item_resumed_that_failed_again_the_same_way(content_pool, bot, rita, clock):
    phase = new_item_in_review(bot)
    signature = phase.review_signature_id

    back = resolve_then(
        phase, method="resume", reason_code="solved_challenge", then=CAME_BACK, bot=bot, actor=rita
    )

    came_back = returns_of([back.pk])[back.pk]
    assert (came_back.method, came_back.reason_code, came_back.actor) == (
        "resume",
        "solved_challenge",
        "rita",
    )
    assert came_back.resolved_at <= back.review_required_since  # the clock stands still here
    assert came_back.signature == came_back.returned_with == signature
    assert came_back.same_way is True
    assert came_back.returned_title == FailureSignature.objects.get(pk=signature).title


def test_an_item_retried_that_failed_again_another_way(content_pool, bot, rita):
    phase = new_item_in_review(bot)

    back = resolve_then(
        phase,
        method="retry",
        reason_code="other",
        then=CAME_BACK,
        reason=OTHER_REASON,
        bot=bot,
        actor=rita,
    )

    came_back = returns_of([back.pk])[back.pk]
    assert came_back.method == "retry" and came_back.same_way is False
    assert came_back.signature == phase.review_signature_id != back.review_signature_id
    assert came_back.returned_title == f"challenge_required on profile_bio: {OTHER_REASON}"


def test_the_resolution_that_did_not_hold_is_the_latest_one(content_pool, bot, rita):
    phase = new_item_in_review(bot)
    common = {"then": CAME_BACK, "bot": bot, "actor": rita}
    phase = resolve_then(phase, method="resume", reason_code="fixed_credentials", **common)
    phase = resolve_then(phase, method="retry", reason_code="solved_challenge", **common)

    assert returns_of([phase.pk])[phase.pk].method == "retry"


def test_items_that_did_not_come_back_are_not_returns(content_pool, bot, rita):
    never_resolved = new_item_in_review(bot)
    worked = resolve_then(
        new_item_in_review(bot),
        method="retry",
        reason_code="other",
        then=WORKED,
        bot=bot,
        actor=rita,
    )
    at_work = resolve_then(
        new_item_in_review(bot),
        method="retry",
        reason_code="other",
        then=PENDING,
        bot=bot,
        actor=rita,
    )

    assert returns_of([never_resolved.pk, worked.pk, at_work.pk]) == {}
    assert returns_of([]) == {}


def test_an_undone_batch_is_no_return(content_pool, bot, rita, clock):
    # given: an item resolved in a batch, which is then undone: it is back in review
    phase = new_item_in_review(bot)
    resolved_then_undone(phase, method="resume", actor=rita, clock=clock, apart=APART)

    # then: the undo took the resolution back; the item did not come back from it
    assert returns_of([phase.pk]) == {}


def test_returns_of_a_page_is_two_queries(content_pool, bot, rita, django_assert_num_queries):
    backs = [
        resolve_then(
            new_item_in_review(bot),
            method="resume",
            reason_code="other",
            then=CAME_BACK,
            bot=bot,
            actor=rita,
        )
        for _ in range(3)
    ]
    ids = [back.pk for back in backs] + [new_item_in_review(bot).pk]

    with django_assert_num_queries(2):  # the phases, then the log
        found = returns_of(ids)

    assert sorted(found) == sorted(back.pk for back in backs)
    assert {came_back.actor for came_back in found.values()} == {"rita"}


def test_a_page_where_nothing_came_back_does_not_read_the_log(
    content_pool, bot, django_assert_num_queries
):
    ids = [new_item_in_review(bot).pk for _ in range(3)]

    with django_assert_num_queries(1) as queries:
        assert returns_of(ids) == {}
    assert "reviews_reviewlog" not in queries.captured_queries[0]["sql"]


def test_returned_counts_per_signature(content_pool, bot, rita, django_assert_num_queries):
    # given: two items of one signature came back, a third of it never left; another signature
    # has an item that came back to a third signature
    first = new_item_in_review(bot)
    for phase in (first, new_item_in_review(bot)):
        resolve_then(
            phase, method="resume", reason_code="other", then=CAME_BACK, bot=bot, actor=rita
        )
    new_item_in_review(bot)
    other = WarmupPhaseFactory(in_review=True, bot=bot, retryable=False, reason=OTHER_REASON)
    moved = resolve_then(
        other,
        method="retry",
        reason_code="other",
        then=CAME_BACK,
        reason="Blocked",
        bot=bot,
        actor=rita,
    )
    keys = [first.review_signature_id, other.review_signature_id, moved.review_signature_id]

    with django_assert_num_queries(1):
        counts = returned_counts(keys)

    assert counts == {keys[0]: 2, keys[1]: 0, keys[2]: 1}
    assert returned_counts([]) == {}


def test_an_undone_resolution_gives_back_the_one_before_it(content_pool, bot, rita, clock):
    # given: an item resumed that came back, then retried in a batch that is undone
    phase = resolve_then(
        new_item_in_review(bot),
        method="resume",
        reason_code="other",
        then=CAME_BACK,
        bot=bot,
        actor=rita,
    )
    resolved_then_undone(phase, method="retry", actor=rita, clock=clock, apart=APART)

    # then: it came back from the resume, as before the retry, and its incident counts it
    came_back = returns_of([phase.pk])[phase.pk]
    assert came_back.method == "resume"
    phase.refresh_from_db()
    assert phase.last_resolved_at == came_back.resolved_at
    assert returned_counts([phase.review_signature_id]) == {phase.review_signature_id: 1}


def outcomes_from_the_log() -> dict[int, str | None]:
    """Each resolution row's outcome read from the rest of its phase's log, the definition:
    failed when a later row of the phase entered review, else success when a bot completed
    the phase, else pending; None for a completion or a skip."""
    rows = list(ReviewLog.objects.select_related("phase").order_by("id"))
    outcomes = {}
    for row in rows:
        if row.action not in RESOLVED:
            continue
        if row.resolution_method not in AUTOMATED_RESOLUTIONS:
            outcomes[row.pk] = None
        elif any(
            later.phase_id == row.phase_id and later.pk > row.pk and later.action in ENTERS_REVIEW
            for later in rows
        ):
            outcomes[row.pk] = "failed"
        elif row.phase.completion_method == CompletionMethod.BOT:
            outcomes[row.pk] = "success"
        else:
            outcomes[row.pk] = "pending"
    return outcomes


def test_each_resolutions_outcome_read_from_the_phase_is_the_one_its_log_gives(
    content_pool, bot, rita, clock
):
    # given: every way a resolution turns out, undone batches and a hold among them
    common = {"bot": bot, "actor": rita, "reason_code": "other"}

    def in_a_batch_undone(phase, method):
        resolved_then_undone(phase, method=method, actor=rita, clock=clock, apart=APART)

    back_then_worked = resolve_then(
        new_item_in_review(bot), method="resume", then=CAME_BACK, **common
    )
    clock.shift(APART)  # two resolutions of one phase are never at the same moment
    resolve_then(back_then_worked, method="retry", then=WORKED, **common)
    resolve_then(new_item_in_review(bot), method="retry", then=PENDING, **common)
    in_a_batch_undone(new_item_in_review(bot), "resume")
    back_then_undone = resolve_then(
        new_item_in_review(bot), method="retry", then=CAME_BACK, **common
    )
    in_a_batch_undone(back_then_undone, "resume")
    held = resolve_then(new_item_in_review(bot), method="retry", then=PENDING, **common)
    review_hold(phase_id=held.pk, note="looks wrong", actor=rita)
    for method in ("complete", "skip"):
        review_resolve(
            phase_id=new_item_in_review(bot).pk,
            method=method,
            reason_code="other",
            note="x",
            actor=rita,
        )
    resolve_then(new_item_in_review(bot), method="resume", then=WORKED, **common)

    # then: every resolution's outcome from its phase is the one from its log
    expected = outcomes_from_the_log()
    assert set(expected.values()) == {"failed", "success", "pending", None}
    read = dict(
        ReviewLog.objects.filter(pk__in=expected)
        .annotate(outcome=resolution_outcome())
        .values_list("pk", "outcome")
    )
    assert read == expected


def test_an_undone_resolution_of_the_same_moment_is_not_the_one_named(
    content_pool, bot, rita, clock
):
    # given: with the clock standing still, an item resumed that came back, then retried in a
    # batch that is undone: both resolutions have the same moment
    phase = resolve_then(
        new_item_in_review(bot),
        method="resume",
        reason_code="fixed_credentials",
        then=CAME_BACK,
        bot=bot,
        actor=rita,
    )
    resolved_then_undone(phase, method="retry", actor=rita)

    # then: the resume is the resolution that did not hold, not the undone retry
    came_back = returns_of([phase.pk])[phase.pk]
    assert (came_back.method, came_back.reason_code) == ("resume", "fixed_credentials")
