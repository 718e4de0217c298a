"""What worked before, as a reviewer reads it on the item page and on a bulk resolution's
confirmation page: ranked by how sure it is, with its count, too few cases never offered, and
the reason of the best one chosen."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from reviews.models import ReviewItem
from tests.clients import changelist
from tests.factories import WarmupPhaseFactory, new_item_in_review
from tests.resolved import CAME_BACK, WORKED, resolve_then

pytestmark = pytest.mark.django_db

QUEUE = changelist(ReviewItem)


@pytest.fixture
def reviewer_client(reviewer):
    client = Client()
    client.force_login(reviewer)
    return client


@pytest.fixture
def track_record(content_pool, bot, reviewer_actor):
    """Challenges on the first step (one signature): a retry that worked once, and resumes
    with "solved_challenge" that worked 6 times of 8."""
    common = {"bot": bot, "actor": reviewer_actor}
    resolve_then(
        new_item_in_review(bot), method="retry", reason_code="other", then=WORKED, **common
    )
    for then in [WORKED] * 6 + [CAME_BACK] * 2:
        resolve_then(
            new_item_in_review(bot),
            method="resume",
            reason_code="solved_challenge",
            then=then,
            **common,
        )


def item_page(client, phase) -> str:
    return client.get(reverse("admin:reviews_reviewitem_change", args=[phase.pk])).content.decode()


def chosen_reason(html: str, action: str) -> str:
    """The reason chosen in `action`'s form ('' for none)."""
    select = html.split(f'id="id_{action}_reason_code"')[1].split("</select>")[0]
    chosen = [o for o in select.split("<option")[1:] if " selected>" in o]
    return chosen[0].split('value="')[1].split('"')[0] if chosen else ""


def suggestion_rows(html: str) -> list[str]:
    table = html.split("What worked before")[1].split("</tbody>")[0]
    return [row.split("</tr>")[0] for row in table.split("<tr")[2:]]


def test_the_item_page_ranks_many_cases_over_one_lucky_one_and_offers_it(
    reviewer_client, track_record, bot
):
    item = new_item_in_review(bot)

    html = item_page(reviewer_client, item)

    assert "What worked before for failures like this one" in html
    first, second = suggestion_rows(html)
    assert "Resume automation" in first and "Solved challenge" in first
    assert "worked 6 of 8 (75 %)" in first
    assert "works at least 41 % of the time, with 95 % confidence" in first  # its tooltip
    assert "Retry now" in second and "too few cases (worked 1 of 1)" in second
    assert "Suggested: what worked best" in html.split("Resume automation</summary>")[1]
    assert chosen_reason(html, "resume") == "solved_challenge"
    assert chosen_reason(html, "retry") == ""


def test_the_item_page_falls_back_to_the_category_when_its_signature_has_no_outcome_yet(
    reviewer_client, track_record, bot
):
    # given: a challenge on the same step with other words: another signature, never resolved
    item = WarmupPhaseFactory(
        in_review=True,
        bot=bot,
        category="challenge_required",
        retryable=False,
        reason="Instagram wants a selfie video",
    )

    html = item_page(reviewer_client, item)

    assert "What worked before for challenge required" in html
    assert "worked 6 of 8 (75 %)" in suggestion_rows(html)[0]
    assert chosen_reason(html, "resume") == "solved_challenge"


def test_nothing_is_offered_when_every_resolution_has_too_few_cases(
    reviewer_client, bot, reviewer_actor, content_pool
):
    resolve_then(
        new_item_in_review(bot),
        method="retry",
        reason_code="solved_challenge",
        then=WORKED,
        bot=bot,
        actor=reviewer_actor,
    )
    item = new_item_in_review(bot)

    html = item_page(reviewer_client, item)

    assert "too few cases (worked 1 of 1)" in suggestion_rows(html)[0]
    assert "Suggested: what worked best" not in html
    assert chosen_reason(html, "retry") == ""


# --- A bulk resolution's confirmation page ----------------------------------------------------


def confirmation(client, action, phases, **data) -> str:
    payload = {"action": action, ACTION_CHECKBOX_NAME: [p.pk for p in phases], **data}
    response = client.post(QUEUE, payload)
    assert response.status_code == 200
    return response.content.decode()


def confirm_reason(html: str) -> str:
    select = html.split('id="id_reason_code"')[1].split("</select>")[0]
    chosen = [o for o in select.split("<option")[1:] if " selected>" in o]
    return chosen[0].split('value="')[1].split('"')[0] if chosen else ""


def test_a_bulk_resume_of_one_failure_shows_what_worked_and_chooses_its_reason(
    reviewer_client, track_record, bot
):
    items = [new_item_in_review(bot) for _ in range(2)]

    html = confirmation(reviewer_client, "resume", items)

    assert "Resume automation for 2 items" in html
    assert "Suggested reason: <strong>Solved challenge</strong>" in html
    assert "worked 6 of 8 (75 %)" in suggestion_rows(html)[0]
    assert "too few cases (worked 1 of 1)" in suggestion_rows(html)[1]
    assert confirm_reason(html) == "solved_challenge"


def test_a_bulk_retry_gets_no_reason_from_a_retry_with_too_few_cases(
    reviewer_client, track_record, bot
):
    items = [new_item_in_review(bot) for _ in range(2)]

    html = confirmation(reviewer_client, "retry", items)

    assert "What worked before for failures like this one" in html  # the table, to read
    assert "Suggested reason" not in html
    assert confirm_reason(html) == ""


def test_a_bulk_selection_of_different_failures_suggests_nothing(
    reviewer_client, track_record, bot
):
    items = [new_item_in_review(bot), new_item_in_review(bot, "login_failed")]

    html = confirmation(reviewer_client, "resume", items)

    assert "The selected items failed in different ways, so nothing is suggested" in html
    assert "What worked before" not in html
    assert confirm_reason(html) == ""


def test_a_bulk_selection_that_misses_its_note_keeps_the_reason_the_reviewer_chose(
    reviewer_client, track_record, bot
):
    items = [new_item_in_review(bot) for _ in range(2)]

    html = confirmation(
        reviewer_client, "resume", items, confirm="yes", reason_code="fixed_credentials", note=""
    )

    assert "Please correct the error below." in html
    assert confirm_reason(html) == "fixed_credentials"  # not replaced by the suggestion
