"""The warmup admin (plans, accounts, phases, content, bots) for a superuser: it never offers
to write status, and its actions go through the services."""

import pytest
from django.urls import reverse

from tests.clients import change, changelist
from warmup.models import Account, Bot, ContentItem, PhaseTemplate, WarmupPhase, WarmupPlan
from warmup.services.bots import bot_authenticate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        "status=review_required",
        "account__platform=instagram",
        "last_failure_category=challenge_required",
        "q=waiting",
    ],
)
def test_phase_changelist_filters_render(superuser_client, fleet, query):
    response = superuser_client.get(changelist(WarmupPhase) + "?" + query)

    assert response.status_code == 200


def test_phases_are_read_only_the_admin_never_writes_status(superuser_client, fleet):
    phase = fleet["working"]

    response = superuser_client.get(change(phase))
    html = response.content.decode()
    assert 'name="status"' not in html and 'name="lease_token"' not in html
    assert 'name="_save"' not in html

    post = superuser_client.post(change(phase), {"status": "completed"})
    assert post.status_code == 403
    phase.refresh_from_db()
    assert phase.status == "in_progress"


def test_the_bot_page_does_not_show_the_token_hash(superuser_client, fleet):
    bot = Bot.objects.first()

    html = superuser_client.get(change(bot)).content.decode()
    assert bot.token_prefix in html
    assert bot.token_hash not in html
    assert bot.token_hash not in superuser_client.get(changelist(Bot)).content.decode()


def test_adding_an_account_in_the_admin_enrols_it_with_its_phases(superuser_client, content_pool):
    plan = WarmupPlan.objects.get(slug="default")

    response = superuser_client.post(
        reverse("admin:warmup_account_add"),
        {"platform": "tiktok", "username": " @new_one ", "plan": plan.pk},
    )

    assert response.status_code == 302
    account = Account.objects.get(platform="tiktok", username="new_one")
    assert account.phases.count() == PhaseTemplate.objects.filter(plan=plan).count()
    assert account.phases.get(order=1).status == "available"


def test_an_account_its_platform_could_not_have_is_refused_in_the_admin_too(
    superuser_client, content_pool
):
    plan = WarmupPlan.objects.get(slug="default")

    response = superuser_client.post(
        reverse("admin:warmup_account_add"),
        {"platform": "facebook", "username": "=cmd|' /C calc'!A0", "plan": plan.pk},
    )

    assert response.status_code == 200  # the form again, with the error
    assert "is not possible on Facebook" in response.content.decode()
    assert not Account.objects.exists()


def test_a_content_item_with_an_unknown_phase_type_is_refused(superuser_client):
    response = superuser_client.post(
        reverse("admin:warmup_contentitem_add"),
        {
            "phase_type": "follow_accounts",
            "title": "x",
            "body": "",
            "media_url": "",
            "is_active": "on",
        },
    )

    assert response.status_code == 200  # the form again, with the error
    assert "Unknown phase type" in response.content.decode()
    assert not ContentItem.objects.exists()


def test_deactivating_a_bot_at_work_ends_its_lease_and_says_so(superuser_client, fleet):
    working = fleet["working"]
    selection = {"action": "deactivate", "_selected_action": [working.bot_id]}

    confirmation = superuser_client.post(changelist(Bot), selection)
    assert f"{working.bot.name} (holds 1 phase)" in confirmation.content.decode()
    response = superuser_client.post(changelist(Bot), {**selection, "confirm": "yes"}, follow=True)

    assert f"Ended 1 lease {working.bot.name} held." in response.content.decode()
    working.refresh_from_db()
    assert working.status == "content_assigned"
    assert working.last_failure_category == "lease_expired"


def test_deactivating_bots_asks_first_then_goes_through_the_service(superuser_client, fleet):
    bot = Bot.objects.first()
    selection = {"action": "deactivate", "_selected_action": [bot.pk]}

    confirmation = superuser_client.post(changelist(Bot), selection)
    bot.refresh_from_db()
    assert confirmation.status_code == 200
    assert "Deactivate 1 bot" in confirmation.content.decode()
    assert bot.is_active is True  # nothing happens before the confirmation

    response = superuser_client.post(changelist(Bot), {**selection, "confirm": "yes"}, follow=True)

    assert response.status_code == 200
    assert f"Deactivated 1 bot: {bot.name}." in response.content.decode()
    bot.refresh_from_db()
    assert bot.is_active is False


def test_an_enrolled_account_page_is_read_only(superuser_client, fleet):
    account = fleet["waiting"].account

    html = superuser_client.get(change(account)).content.decode()
    assert 'name="username"' not in html and 'name="_save"' not in html
    assert superuser_client.post(change(account), {"username": "renamed"}).status_code == 403


def test_adding_a_bot_shows_its_token_once_and_the_token_works(superuser_client):
    response = superuser_client.post(reverse("admin:warmup_bot_add"), {"name": " scout-7 "})

    token = response.context["token"]
    bot = Bot.objects.get(name="scout-7")
    assert bot_authenticate(token) == bot
    assert token in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert all(token not in morsel.value for morsel in response.cookies.values())  # no message
    assert token not in superuser_client.get(change(bot)).content.decode()  # never again
    assert token not in superuser_client.get(changelist(Bot)).content.decode()


def test_a_bot_name_in_use_is_refused_on_the_form(superuser_client, fleet):
    taken = Bot.objects.first().name

    response = superuser_client.post(reverse("admin:warmup_bot_add"), {"name": taken})

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Bot.objects.filter(name=taken).count() == 1


@pytest.mark.parametrize("model", [WarmupPlan, ContentItem, Account, Bot])
def test_pages_nobody_may_delete_from_have_no_delete_button(superuser_client, fleet, model):
    obj = model.objects.first()

    page = superuser_client.get(change(obj)).content.decode()
    listing = superuser_client.get(changelist(model)).content.decode()

    assert "deletelink" not in page
    assert "delete_selected" not in listing
