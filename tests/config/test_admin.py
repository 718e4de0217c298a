"""Every admin page of both apps renders for a superuser."""

import pytest
from django.contrib import admin

from reviews.models import ReviewItem, ReviewLog
from tests.clients import change, changelist
from warmup.models import Bot, ContentItem, WarmupPlan

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
