"""The migration that keeps "came back" on the phase (warmup 0015): its backfill, run over
items resolved through the real services, sets every phase's last_resolved_at to what the
services themselves wrote, undone resolutions included."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps

from tests.factories import UserFactory, new_item_in_review
from tests.resolved import CAME_BACK, WORKED, resolve_then, resolved_then_undone
from warmup.domain.actors import Actor
from warmup.models import WarmupPhase

migration = import_module("warmup.migrations.0015_came_back_items")

pytestmark = pytest.mark.django_db

THREE_MINUTES = timedelta(minutes=3)


def test_the_backfill_gives_each_phase_the_moment_the_services_wrote(content_pool, bot, clock):
    rita = Actor.for_user(UserFactory(reviewer=True))
    common = {"bot": bot, "actor": rita, "reason_code": "other"}

    def undone(phase, method):
        resolved_then_undone(phase, method=method, actor=rita, clock=clock, apart=THREE_MINUTES)

    never = new_item_in_review(bot)
    came_back = resolve_then(new_item_in_review(bot), method="resume", then=CAME_BACK, **common)
    twice = resolve_then(new_item_in_review(bot), method="retry", then=CAME_BACK, **common)
    clock.shift(timedelta(minutes=3))
    twice = resolve_then(twice, method="resume", then=CAME_BACK, **common)
    worked = resolve_then(new_item_in_review(bot), method="retry", then=WORKED, **common)
    only_undone = new_item_in_review(bot)
    undone(only_undone, "resume")
    undone_after_a_return = resolve_then(
        new_item_in_review(bot), method="resume", then=CAME_BACK, **common
    )
    undone(undone_after_a_return, "retry")
    phases = [never, came_back, twice, worked, only_undone, undone_after_a_return]
    written = dict(
        WarmupPhase.objects.filter(pk__in=[p.pk for p in phases]).values_list(
            "pk", "last_resolved_at"
        )
    )
    assert written[never.pk] is None and written[only_undone.pk] is None
    assert written[came_back.pk] and written[worked.pk] and written[undone_after_a_return.pk]

    WarmupPhase.objects.update(last_resolved_at=None)
    migration.backfill(apps, schema_editor=None)

    assert dict(WarmupPhase.objects.values_list("pk", "last_resolved_at")) == {
        pk: written.get(pk) for pk in WarmupPhase.objects.values_list("pk", flat=True)
    }
