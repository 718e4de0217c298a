"""A bulk action's confirmation page as a reviewer reads it (issue #18): the form first, the
selection below it, what will be refused said before submitting, the way back to the filtered
queue, and a review lead assigning items to any reviewer."""

import html as html_lib
import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from reviews.models import ReviewItem, ReviewLog
from tests.clients import changelist, view_only_user
from tests.factories import UserFactory, WarmupPhaseFactory, new_item_in_review
from warmup.domain.actors import Actor
from warmup.domain.choices import ReviewAction
from warmup.domain.errors import Refusal, refusal_group_words
from warmup.models import WarmupPhase
from warmup.services.resolutions import review_complete, review_skip

pytestmark = pytest.mark.django_db

QUEUE = changelist(ReviewItem)


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def reviewer_client(reviewer):
    return client_of(reviewer)


def in_review(n, **kwargs):
    return [WarmupPhaseFactory(in_review=True, **kwargs) for _ in range(n)]


def confirmation(client, action, phases, query: str = "", **data) -> str:
    payload = {"action": action, ACTION_CHECKBOX_NAME: [p.pk for p in phases], **data}
    response = client.post(f"{QUEUE}?{query}" if query else QUEUE, payload)
    assert response.status_code == 200
    return response.content.decode()


def back_link(html: str) -> str:
    (href,) = re.findall(r'<a href="([^"]*)"[^>]*>No, take me back</a>', html)
    return html_lib.unescape(href)


def chosen(html: str, field: str) -> str:
    select = html.split(f'id="id_{field}"')[1].split("</select>")[0]
    picked = [o for o in select.split("<option")[1:] if " selected>" in o]
    return picked[0].split('value="')[1].split('"')[0] if picked else ""


# --- The way back ------------------------------------------------------------------------------


def test_take_me_back_returns_to_the_filtered_sorted_searched_page_the_reviewer_came_from(
    reviewer_client,
):
    items = in_review(55, category="challenge_required")
    query = "category=challenge_required&o=-7&p=2&q=user"

    html = confirmation(reviewer_client, "resume", items[50:], query=query)

    assert back_link(html) == f"{QUEUE}?{query}"


def test_take_me_back_from_the_plain_queue_is_the_plain_queue(reviewer_client):
    html = confirmation(reviewer_client, "resume", in_review(2))

    assert back_link(html) == QUEUE


# --- The form first, the list below --------------------------------------------------------------


def test_the_form_comes_before_the_selection_and_a_long_selection_is_folded(reviewer_client):
    items = in_review(60)

    html = confirmation(reviewer_client, "resume", items)

    first_item = str(items[0].account)
    assert html.index('name="reason_code"') < html.index(first_item)
    assert html.index('type="submit"') < html.index(first_item)
    listed = html.split('class="selection"')[1]
    shown, folded = listed.split("<details")[0], listed.split("<details")[1]
    assert shown.count("<li>") == 20
    assert "and 40 more" in folded
    assert folded.split("</details>")[0].count("<li>") == 40


def test_a_short_selection_is_listed_whole_without_folding(reviewer_client):
    html = confirmation(reviewer_client, "skip", in_review(3))

    listed = html.split('class="selection"')[1].split("</ul>")[0]
    assert listed.count("<li>") == 3
    assert "more" not in listed


def test_the_page_says_how_many_will_be_refused_and_why_before_anything_is_written(
    reviewer_client,
):
    fine = in_review(2)
    suspended = in_review(1, category="account_suspended")

    html = confirmation(reviewer_client, "resume", fine + suspended)

    assert "2 of 3 items will be resumed" in html
    why = html_lib.escape(refusal_group_words(Refusal.ACCOUNT_NOT_ACTIVE))
    assert f"1 will be left as it is: {why}" in html
    assert not ReviewLog.objects.filter(action=ReviewAction.RESUMED).exists()


def test_a_selection_that_will_all_go_through_says_so(reviewer_client):
    html = confirmation(reviewer_client, "skip", in_review(3))

    assert "All 3 items will be skipped" in html
    assert "will be left as it is" not in html


@pytest.mark.parametrize(
    ("action", "resolve", "reason"),
    [("complete", review_complete, "false_alarm"), ("skip", review_skip, "account_lost")],
)
def test_a_completion_or_skip_gets_the_reason_most_used_before_for_this_failure(
    reviewer_client, reviewer_actor, bot, action, resolve, reason
):
    # given: this failure was resolved by hand before, mostly with `reason`
    for why in [reason, reason, "other"]:
        resolve(
            phase_id=new_item_in_review(bot).pk, actor=reviewer_actor, reason_code=why, note="x"
        )
    items = [new_item_in_review(bot) for _ in range(2)]

    html = confirmation(reviewer_client, action, items)

    assert chosen(html, "reason_code") == reason
    assert "Most often used reason" in html


# --- Assigning: a reviewer to themself, a lead to anyone who may resolve ----------------------


@pytest.fixture
def lead(db):
    return UserFactory(username="lena", lead=True)


def test_a_lead_assigns_a_selection_to_another_reviewer_and_the_log_says_so(lead, reviewer):
    items = in_review(3)
    client = client_of(lead)

    html = confirmation(client, "assign_to", items)
    assert "Assign 3 items to" in html
    options = html.split('id="id_assignee"')[1].split("</select>")[0]
    assert reviewer.username in options and lead.username in options
    assert view_only_user().username not in options

    done = client.post(
        QUEUE,
        {
            "action": "assign_to",
            ACTION_CHECKBOX_NAME: [p.pk for p in items],
            "confirm": "yes",
            "assignee": reviewer.pk,
        },
        follow=True,
    )

    said = [str(m) for m in done.context["messages"]]
    assert said[0].startswith(f"Assigned to {reviewer.username}: 3 items (")
    assert {WarmupPhase.objects.get(pk=p.pk).review_assignee for p in items} == {reviewer}
    logged = ReviewLog.objects.filter(action=ReviewAction.ASSIGNED, phase__in=items)
    assert logged.count() == 3
    assert {row.actor_user_id for row in logged} == {lead.pk}


def test_a_reader_is_not_offered_as_an_assignee_and_a_forged_one_changes_nothing(lead):
    items = in_review(2)
    reader = view_only_user()

    done = client_of(lead).post(
        QUEUE,
        {
            "action": "assign_to",
            ACTION_CHECKBOX_NAME: [p.pk for p in items],
            "confirm": "yes",
            "assignee": reader.pk,
        },
    )

    assert done.status_code == 200
    assert "Select a valid choice" in done.content.decode()
    assert {WarmupPhase.objects.get(pk=p.pk).review_assignee for p in items} == {None}


def test_a_reviewer_is_offered_assign_to_me_but_not_assign_to(reviewer_client):
    items = in_review(1)

    queue = reviewer_client.get(QUEUE).content.decode()
    forged = reviewer_client.post(
        QUEUE, {"action": "assign_to", ACTION_CHECKBOX_NAME: [items[0].pk]}
    )
    page = reviewer_client.get(reverse("admin:reviews_reviewitem_change", args=[items[0].pk]))

    assert 'value="assign_to_me"' in queue
    assert 'value="assign_to"' not in queue
    assert forged.status_code == 403
    assert "Assign to\N{HORIZONTAL ELLIPSIS}" not in page.content.decode()


def test_a_lead_assigns_an_item_to_a_reviewer_from_its_page(lead, reviewer):
    (item,) = in_review(1)
    client = client_of(lead)

    page = client.get(reverse("admin:reviews_reviewitem_change", args=[item.pk])).content.decode()
    assert "Assign to\N{HORIZONTAL ELLIPSIS}" in page
    assert 'id="id_assign_to_assignee"' in page

    client.post(
        reverse("admin:reviews_reviewitem_act", args=[item.pk, "assign_to"]),
        {"assignee": reviewer.pk},
    )

    assert WarmupPhase.objects.get(pk=item.pk).review_assignee == reviewer
    assert ReviewLog.objects.filter(action=ReviewAction.ASSIGNED, phase=item).count() == 1


def test_a_reviewers_post_to_assign_someone_else_from_the_item_page_is_refused(
    reviewer_client, reviewer
):
    (item,) = in_review(1)
    other = UserFactory(reviewer=True)

    response = reviewer_client.post(
        reverse("admin:reviews_reviewitem_act", args=[item.pk, "assign_to"]),
        {"assignee": other.pk},
    )

    assert response.status_code == 403
    assert WarmupPhase.objects.get(pk=item.pk).review_assignee is None


def test_assigning_many_is_one_service_call_that_logs_each_change(lead, reviewer):
    from warmup.services.review import reviews_assign

    items = in_review(3)
    reviews_assign(phase_ids=[items[0].pk], assignee=reviewer, actor=Actor.for_user(lead))

    result = reviews_assign(
        phase_ids=[p.pk for p in items], assignee=reviewer, actor=Actor.for_user(lead)
    )

    assert sorted(result.changed) == sorted(p.pk for p in items[1:])  # the first had it already
    assert ReviewLog.objects.filter(action=ReviewAction.ASSIGNED).count() == 3
