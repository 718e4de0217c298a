"""Suggestions that respect the evidence: what worked before for a failure, per signature
first, ranked by the lower bound of the Wilson interval of its success rate, with too few
cases never offered; and a return to review counted as a failure of the resolution before it."""

import pytest

from tests.factories import new_item_in_review
from tests.resolved import CAME_BACK, PENDING, WORKED, resolve_then
from warmup.domain.confidence import wilson_lower_bound
from warmup.selectors.analytics import (
    SUGGESTION_MIN_DECIDED,
    FailureKind,
    best_suggestion,
    resolutions,
    suggestions_for,
    suggestions_for_many,
)

# --- Wilson's lower bound ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "trials", "expected"),
    [
        (1, 1, 0.2065),  # a single lucky case: 100 % raw, at least 21 % with 95 % confidence
        (192, 1518, 0.1107),  # the resume: 13 % raw, sure to within two points
        (50, 100, 0.4038),
        (5, 5, 0.5655),
        (9, 10, 0.5958),
        (0, 10, 0.0),
        (0, 0, 0.0),  # nothing known
    ],
)
def test_the_wilson_lower_bound_of_known_counts(successes, trials, expected):
    assert wilson_lower_bound(successes, trials) == pytest.approx(expected, abs=1e-4)


def test_more_of_the_same_rate_is_surer():
    assert wilson_lower_bound(1, 2) < wilson_lower_bound(10, 20) < wilson_lower_bound(100, 200)


def test_more_successes_than_trials_is_an_error():
    with pytest.raises(ValueError, match="within 0..3"):
        wilson_lower_bound(4, 3)


# --- What worked before, from the review log -------------------------------------------------


def resolved(n, *, method, reason_code, then, bot, actor, category="challenge_required"):
    """`n` items of `category` (one signature) resolved so, each then as `then` says."""
    for _ in range(n):
        phase = new_item_in_review(bot, category)
        resolve_then(phase, method=method, reason_code=reason_code, then=then, bot=bot, actor=actor)


def entry(entries, method, reason_code):
    (found,) = [e for e in entries if (e["method"], e["reason_code"]) == (method, reason_code)]
    return found


@pytest.mark.django_db
def test_a_lucky_single_case_does_not_outrank_many_and_is_never_suggested(
    content_pool, bot, reviewer_actor
):
    # given: a retry that worked once (100 %), a resume that worked 9 of 10 (90 %) and a
    # resume that worked 5 of 5 (100 %, but fewer cases)
    resolved(1, method="retry", reason_code="other", then=WORKED, bot=bot, actor=reviewer_actor)
    common = {"method": "resume", "bot": bot, "actor": reviewer_actor}
    resolved(9, reason_code="solved_challenge", then=WORKED, **common)
    resolved(1, reason_code="solved_challenge", then=CAME_BACK, **common)
    resolved(5, reason_code="fixed_credentials", then=WORKED, **common)
    item = new_item_in_review(bot)

    # when
    entries = suggestions_for(
        signature=item.review_signature_id, category="challenge_required", phase_type=None
    )

    # then: ranked by how sure the rate is, not by the rate
    ranked = [(e["method"], e["reason_code"]) for e in entries]
    assert ranked == [
        ("resume", "solved_challenge"),
        ("resume", "fixed_credentials"),
        ("retry", "other"),
    ]
    nine_of_ten = entries[0]
    assert (nine_of_ten["success"], nine_of_ten["failed"], nine_of_ten["decided"]) == (9, 1, 10)
    assert nine_of_ten["rate"] == pytest.approx(0.9)
    assert nine_of_ten["lower_bound"] == pytest.approx(wilson_lower_bound(9, 10))
    assert nine_of_ten["enough"] and nine_of_ten["scope"] == "signature"
    lucky = entry(entries, "retry", "other")
    assert (lucky["decided"], lucky["rate"], lucky["enough"]) == (1, 1.0, False)
    assert best_suggestion(entries) is nine_of_ten
    assert best_suggestion(entries, method="retry") is None  # 1 of 1 is too few to offer


@pytest.mark.django_db
def test_below_the_minimum_of_decided_cases_nothing_is_suggested(content_pool, bot, reviewer_actor):
    common = {"method": "retry", "reason_code": "solved_challenge", "bot": bot}
    resolved(SUGGESTION_MIN_DECIDED - 1, then=WORKED, actor=reviewer_actor, **common)
    resolved(3, then=PENDING, actor=reviewer_actor, **common)  # no outcome yet: not decided

    (only,) = suggestions_for(signature=None, category="challenge_required")

    assert (only["count"], only["decided"], only["pending"]) == (SUGGESTION_MIN_DECIDED + 2, 4, 3)
    assert not only["enough"] and best_suggestion([only]) is None


@pytest.mark.django_db
def test_what_mostly_comes_back_is_listed_but_not_offered(content_pool, bot, reviewer_actor):
    common = {"method": "resume", "reason_code": "replaced_proxy", "bot": bot}
    resolved(2, then=WORKED, actor=reviewer_actor, **common)
    resolved(4, then=CAME_BACK, actor=reviewer_actor, **common)

    (only,) = suggestions_for(signature=None, category="challenge_required")

    assert only["enough"] and (only["success"], only["failed"]) == (2, 4)
    assert best_suggestion([only]) is None


@pytest.mark.django_db
def test_suggestions_are_of_the_signature_first_then_of_the_category(
    content_pool, bot, reviewer_actor
):
    # given: the same category on one plan step with two different reasons (two signatures)
    first = new_item_in_review(bot)
    resolve_then(
        first,
        method="retry",
        reason_code="solved_challenge",
        then=WORKED,
        bot=bot,
        actor=reviewer_actor,
    )
    other = new_item_in_review(bot)
    other_reason = "Instagram asks to confirm it is you by e-mail"
    resolve_then(
        other,
        method="resume",
        reason_code="fixed_credentials",
        then=CAME_BACK,  # back with the other reason: the second signature
        reason=other_reason,
        bot=bot,
        actor=reviewer_actor,
    )
    other.refresh_from_db()
    resolve_then(
        other,
        method="resume",
        reason_code="other",
        then=PENDING,  # nothing decided yet for the second signature
        bot=bot,
        actor=reviewer_actor,
    )
    item = new_item_in_review(bot)
    assert item.review_signature_id == first.review_signature_id != other.review_signature_id

    # when: suggestions for the first signature, and for the second
    same = suggestions_for(
        signature=item.review_signature_id, category="challenge_required", phase_type="profile_bio"
    )
    fallback = suggestions_for(
        signature=other.review_signature_id,
        category="challenge_required",
        phase_type="profile_bio",
    )

    # then: the first has its own record; the second none decided, so its category's
    assert [(e["method"], e["reason_code"], e["scope"]) for e in same] == [
        ("retry", "solved_challenge", "signature"),
        ("resume", "fixed_credentials", "signature"),
    ]
    assert {(e["method"], e["reason_code"]) for e in fallback} == {
        ("retry", "solved_challenge"),
        ("resume", "fixed_credentials"),
        ("resume", "other"),
    }
    assert {e["scope"] for e in fallback} == {"category"}


@pytest.mark.django_db
def test_a_return_counts_as_a_failure_of_the_resolution_before_it(
    content_pool, bot, reviewer_actor
):
    # given: a resume that came back (another way), then a retry the bot completed
    phase = new_item_in_review(bot)
    first_signature = phase.review_signature_id
    phase = resolve_then(
        phase,
        method="resume",
        reason_code="replaced_proxy",
        then=CAME_BACK,
        reason="Instagram asks to confirm it is you by e-mail",
        bot=bot,
        actor=reviewer_actor,
    )
    resolve_then(
        phase,
        method="retry",
        reason_code="solved_challenge",
        then=WORKED,
        bot=bot,
        actor=reviewer_actor,
    )

    # then: the resume failed, the retry worked, each under the signature it resolved
    assert [(r.method, r.outcome) for r in resolutions()] == [
        ("resume", "failed"),
        ("retry", "success"),
    ]
    (resume,) = suggestions_for(signature=first_signature, category="challenge_required")
    assert (resume["method"], resume["success"], resume["failed"]) == ("resume", 0, 1)
    (retry,) = suggestions_for(signature=phase.review_signature_id, category="challenge_required")
    assert (retry["method"], retry["success"], retry["failed"]) == ("retry", 1, 0)


@pytest.mark.django_db
def test_suggestions_for_many_kinds_are_each_kinds_own_in_two_queries(
    content_pool, bot, reviewer_actor, django_assert_max_num_queries
):
    # given: two categories with a record
    resolved(
        2,
        method="retry",
        reason_code="solved_challenge",
        then=WORKED,
        bot=bot,
        actor=reviewer_actor,
    )
    resolved(
        1,
        method="resume",
        reason_code="replaced_proxy",
        then=CAME_BACK,
        bot=bot,
        actor=reviewer_actor,
        category="proxy_error",
    )
    # (an item that came back another way: a second signature, with only a pending resume)
    undecided = new_item_in_review(bot)
    undecided = resolve_then(
        undecided,
        method="resume",
        reason_code="fixed_credentials",
        then=CAME_BACK,
        reason="Instagram asks to confirm it is you by e-mail",
        bot=bot,
        actor=reviewer_actor,
    )
    second_signature = undecided.review_signature_id
    resolve_then(
        undecided, method="resume", reason_code="other", then=PENDING, bot=bot, actor=reviewer_actor
    )
    signatures = {
        category: new_item_in_review(bot, category).review_signature_id
        for category in ("challenge_required", "proxy_error", "login_failed")
    }
    kinds = [
        FailureKind(signatures["challenge_required"], "challenge_required", "profile_bio"),
        FailureKind(signatures["proxy_error"], "proxy_error", None),
        FailureKind(second_signature, "challenge_required", "profile_bio"),
        FailureKind(second_signature, "challenge_required", "first_post"),
        FailureKind(signatures["login_failed"], "login_failed", "profile_bio"),
        FailureKind(None, "proxy_error", "profile_bio"),
    ]

    with django_assert_max_num_queries(2):
        together = suggestions_for_many(kinds)

    # each kind asked alone (a batch of one: no other kind's signature or category can lend
    # it rows) gives what it gets among the others
    one_by_one = [
        suggestions_for(signature=k.signature, category=k.category, phase_type=k.phase_type)
        for k in kinds
    ]
    assert together == one_by_one
    assert [len(entries) for entries in together] == [2, 1, 3, 3, 0, 1]
    assert [entries[0]["scope"] for entries in together if entries] == [
        "signature",
        "signature",
        "category",
        "category",
        "category",
    ]
