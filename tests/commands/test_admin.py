"""The admin pages render for a superuser and never offer to write status or the log."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from reviews.models import ReviewItem, ReviewLog
from tests.builders import make_completed, make_in_progress, make_review_required
from tests.factories import AccountFactory, BotFactory, UserFactory
from warmup.models import Account, Bot, ContentItem, PhaseTemplate, WarmupPhase, WarmupPlan

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(db):
    user = UserFactory(username="root", is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def fleet(content_pool, bot):
    """A waiting review item, an older and escalated one, a bot at work and a finished phase."""
    waiting = make_review_required(AccountFactory(username="waiting_one"), bot)
    escalated = make_review_required(AccountFactory(username="escalated_one"), bot, "login_failed")
    WarmupPhase.objects.filter(pk=escalated.pk).update(
        escalation_level=2, review_required_since=waiting.review_required_since
    )
    working = make_in_progress(AccountFactory(username="working_one"), BotFactory())
    done = make_completed(AccountFactory(username="done_one"), BotFactory())
    return {"waiting": waiting, "escalated": escalated, "working": working, "done": done}


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_every_registered_changelist_renders(superuser_client, fleet):
    ours = [m for m in admin.site._registry if m._meta.app_label in ("warmup", "reviews")]
    assert {m.__name__ for m in ours} >= {
        "Account", "WarmupPlan", "WarmupPhase", "ContentItem", "Bot", "ReviewLog", "ReviewItem"
    }  # fmt: skip

    for model in ours:
        response = superuser_client.get(changelist(model))
        assert response.status_code == 200, model


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


def test_change_pages_render(superuser_client, fleet):
    phase = fleet["waiting"]
    for obj in [
        phase.account,
        phase,
        ReviewItem.objects.get(pk=phase.pk),
        Bot.objects.first(),
        ContentItem.objects.first(),
        WarmupPlan.objects.get(slug="default"),
        ReviewLog.objects.first(),
    ]:
        assert superuser_client.get(change(obj)).status_code == 200, obj


def test_the_review_queue_lists_only_items_in_review_most_escalated_first(superuser_client, fleet):
    response = superuser_client.get(changelist(ReviewItem))

    items = list(response.context["cl"].result_list)
    assert [item.pk for item in items] == [fleet["escalated"].pk, fleet["waiting"].pk]
    html = response.content.decode()
    assert "escalated_one" in html and "waiting_one" in html
    assert "working_one" not in html and "done_one" not in html


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


def test_the_review_log_cannot_be_added_changed_or_deleted(superuser_client, fleet):
    log = ReviewLog.objects.first()
    url = change(log)

    assert superuser_client.get(reverse("admin:reviews_reviewlog_add")).status_code == 403
    assert superuser_client.post(url, {"note": "edited"}).status_code == 403
    assert (
        superuser_client.post(url.replace("change", "delete"), {"post": "yes"}).status_code == 403
    )
    log.refresh_from_db()
    assert log.note != "edited"
    assert 'name="_save"' not in superuser_client.get(url).content.decode()


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
