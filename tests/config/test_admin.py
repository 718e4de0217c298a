"""Every admin page of both apps renders for a superuser."""

import pytest
from django.contrib import admin
from django.urls import reverse

from reviews.models import ReviewItem, ReviewLog
from tests.clients import change, changelist
from warmup.models import Account, Bot, ContentItem, WarmupPlan

pytestmark = pytest.mark.django_db


def test_every_registered_changelist_renders(superuser_client, fleet):
    ours = [m for m in admin.site._registry if m._meta.app_label in ("warmup", "reviews")]
    assert {m.__name__ for m in ours} >= {
        "Account", "WarmupPlan", "WarmupPhase", "ContentItem", "Bot", "ReviewLog", "ReviewItem"
    }  # fmt: skip

    for model in ours:
        response = superuser_client.get(changelist(model))
        assert response.status_code == 200, model


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


@pytest.mark.parametrize(
    "page, parameter",
    [
        ("admin:warmup_warmupphase_changelist", "status__exact"),
        ("admin:warmup_warmupphase_changelist", "last_failure_category__exact"),
        ("admin:warmup_warmupphase_changelist", "account__platform__exact"),
        ("admin:warmup_warmupphase_changelist", "phase_type__exact"),
        ("admin:warmup_account_changelist", "status__exact"),
        ("admin:reviews_reviewlog_changelist", "action__exact"),
        ("admin:reviews_reviewitem_changelist", "category"),
        ("admin:warmup_account_changelist", "q"),
    ],
)
def test_a_nul_byte_in_a_filter_is_a_400_not_a_500(superuser_client, page, parameter):
    response = superuser_client.get(reverse(page) + f"?{parameter}=%00")

    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_a_nul_byte_in_an_admin_form_changes_nothing(superuser_client, fleet):
    response = superuser_client.post(
        reverse("admin:warmup_account_add"),
        {"platform": "instagram", "username": "evil\x00name", "plan": 1},
    )

    assert response.status_code == 400
    assert not Account.objects.filter(username__startswith="evil").exists()
