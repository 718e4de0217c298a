"""Admin actions on accounts: pause and reactivate, with a confirmation page and a note."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from reviews.models import ReviewLog
from tests.builders import reload
from tests.factories import AccountFactory, UserFactory, WarmupPhaseFactory
from warmup.domain.choices import ReviewAction
from warmup.models import AccountStatus, PhaseStatus

CHANGELIST = reverse("admin:warmup_account_changelist")


@pytest.fixture
def reviewer(db):
    """A review lead: pausing and reactivating accounts is theirs (reviewers may hold)."""
    return UserFactory(lead=True)


def test_a_reviewer_who_is_not_a_lead_may_hold_but_not_pause(client, account):
    client.force_login(UserFactory(reviewer=True))

    page = client.get(CHANGELIST).content.decode()

    assert "hold_accounts" in page
    assert "pause_accounts" not in page and "reactivate_accounts" not in page


def post_action(client, action, accounts, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [a.pk for a in accounts], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_reactivate_asks_for_a_note_then_logs_each_account(client, account, bot, reviewer):
    WarmupPhaseFactory(account=account, bot=bot, in_review=True, category="account_suspended")
    client.force_login(reviewer)

    confirmation = post_action(client, "reactivate_accounts", [account])
    done = post_action(
        client, "reactivate_accounts", [account], confirm="yes", note="appeal accepted"
    )

    assert confirmation.status_code == 200
    assert "Reactivate 1 account" in confirmation.content.decode()
    assert f"{account} (currently suspended)" in confirmation.content.decode()
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    messages = [str(m) for m in done.context["messages"]]
    assert messages == [f"Reactivated 1 account: {account}."]
    row = ReviewLog.objects.get(action=ReviewAction.ACCOUNT_REACTIVATED)
    assert (row.note, row.actor_user) == ("appeal accepted", reviewer)


def test_without_a_note_nothing_changes_and_the_page_says_why(client, account, reviewer):
    client.force_login(reviewer)

    response = post_action(client, "pause_accounts", [account], confirm="yes", note="  ")

    assert "This field is required." in response.content.decode()
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert not ReviewLog.objects.exists()


def test_accounts_that_cannot_change_are_reported_in_one_message(client, account, reviewer):
    other = AccountFactory()
    client.force_login(reviewer)

    done = post_action(client, "reactivate_accounts", [account, other], confirm="yes", note="x")

    messages = [str(m) for m in done.context["messages"]]
    first, second = sorted([account, other], key=lambda a: (a.platform, a.username))
    assert messages == [f"2 not changed: it is active ({first}, {second})."]
    assert not ReviewLog.objects.exists()


def test_some_changed_some_not_one_message_says_both(client, account, bot, reviewer):
    WarmupPhaseFactory(account=account, bot=bot, in_review=True, category="account_suspended")
    active = AccountFactory()
    client.force_login(reviewer)

    done = post_action(client, "reactivate_accounts", [account, active], confirm="yes", note="ok")

    messages = [str(m) for m in done.context["messages"]]
    assert messages == [
        f"Reactivated 1 account: {account}. 1 not changed: it is active ({active})."
    ]
    assert ReviewLog.objects.filter(action=ReviewAction.ACCOUNT_REACTIVATED).count() == 1


def test_the_actions_need_the_resolve_permission(client, account):
    viewer = UserFactory()
    viewer.user_permissions.add(*_perms("view_account"))
    client.force_login(viewer)

    page = client.get(CHANGELIST)

    assert page.status_code == 200
    assert "pause_accounts" not in page.content.decode()


def _perms(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(codename__in=codenames)


def test_hold_sends_each_accounts_current_phase_to_review(client, content_pool, bot, reviewer):

    # Made one after the other: each builder runs the scheduler and claims the next ready phase.
    done_already = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    account = AccountFactory()
    working = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)
    idle = AccountFactory()  # its first phase is available
    client.force_login(reviewer)

    response = post_action(
        client, "hold_accounts", [account, idle, done_already.account], confirm="yes", note="odd"
    )

    (message,) = [str(m) for m in response.context["messages"]]
    assert message.startswith("Held 2 accounts: ")
    assert "its phase is in review already" in message
    assert reload(working).status == PhaseStatus.REVIEW_REQUIRED
    assert idle.phases.get(order=1).status == PhaseStatus.REVIEW_REQUIRED
    assert ReviewLog.objects.filter(action=ReviewAction.HELD).count() == 2


def test_the_accounts_page_shows_plan_progress_and_links_items_in_review(
    client, account, bot, reviewer
):
    item = WarmupPhaseFactory(account=account, bot=bot, in_review=True)
    client.force_login(reviewer)

    html = client.get(CHANGELIST, {"in_review": "yes"}).content.decode()

    assert "0/5 done" in html
    assert reverse("admin:reviews_reviewitem_change", args=[item.pk]) in html


@pytest.mark.parametrize("action", ["pause_accounts", "reactivate_accounts"])
def test_a_direct_post_of_an_action_without_the_permission_is_403(client, account, action):
    plain_reviewer = UserFactory(reviewer=True)  # may hold, may not pause or reactivate
    client.force_login(plain_reviewer)

    response = client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [account.pk], "confirm": "yes", "note": "x"},
    )

    assert response.status_code == 403
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert not ReviewLog.objects.exists()
