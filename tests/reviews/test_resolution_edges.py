"""Every edge resolves through one path (warmup.services.resolutions): the same items resolved one
by one (the item page, the review API, resolve_reviews with one id) and in bulk (the queue's bulk
action, on a selection or across the queue; resolve_reviews with all the ids) write the same
columns and the same review log, refuse the same items, and can be undone by their batch id."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Max
from django.test import Client
from django.urls import reverse

from reviews.models import ReviewItem, ReviewLog
from tests.builders import first_phase, reload
from tests.clients import changelist, review_url, user_client
from tests.factories import (
    AccountFactory,
    UserFactory,
    new_item_in_review,
    retried_then_escalated,
)
from warmup.domain.choices import RESOLUTION_ACTIONS
from warmup.models import Account, AccountStatus, PhaseAttempt, PhaseStatus, WarmupPhase
from warmup.services.resolutions import review_skip
from warmup.services.review import review_assign, review_hold
from warmup.services.tick import tick

pytestmark = pytest.mark.django_db

QUEUE = changelist(ReviewItem)
WHY = {"reason_code": "solved_challenge", "note": "Entered the SMS code by hand."}
METHODS = ["resume", "retry", "complete", "skip"]
# Columns of a review log row that differ between two runs of the same resolutions: the row's
# id, its place in the hash chain, and the batch (one per run, or one per item).
NOT_COMPARED = {"id", "hash", "previous_hash", "batch"}


# --- The scenario --------------------------------------------------------------------------


@pytest.fixture
def scenario(content_pool, bot, reviewer, reviewer_actor, clock):
    """Items in review in varied states, built at a frozen time: levels 2, 1 and 0, assigned
    to the reviewer, to someone else or to nobody, with content or without (held before the
    scheduler gave it some), one with a retry count, one whose account was suspended (resume
    and retry refuse it) and one already resolved (everything refuses it)."""
    # given: an item 7 h in review (level 2), assigned to the reviewer
    oldest = new_item_in_review(bot, "login_failed")
    review_assign(phase_id=oldest.pk, assignee=reviewer, actor=reviewer_actor)
    clock.shift(timedelta(hours=5))
    # one 2 h in review (level 1) that had been retried once before
    retried = retried_then_escalated(bot, clock)
    clock.shift(timedelta(hours=1))
    tick()
    # one fresh, assigned to another reviewer; one whose account the platform suspended
    fresh = new_item_in_review(bot, "proxy_error")
    colleague = UserFactory(reviewer=True)
    review_assign(phase_id=fresh.pk, assignee=colleague, actor=reviewer_actor)
    suspended = new_item_in_review(bot, "account_suspended")
    resolved = new_item_in_review(bot, "action_blocked")
    review_skip(phase_id=resolved.pk, actor=reviewer_actor, **WHY)
    # and one held by a reviewer before the scheduler gave it content (no tick after this)
    held = first_phase(AccountFactory())
    review_hold(phase_id=held.pk, note="looks wrong", actor=reviewer_actor)
    clock.shift(timedelta(minutes=30))

    items = {
        "oldest": oldest,
        "retried": retried,
        "fresh": fresh,
        "suspended": suspended,
        "resolved": resolved,
        "held": held,
    }
    items = {name: reload(phase) for name, phase in items.items()}
    # the scenario is what it says
    assert [items[n].escalation_level for n in ("oldest", "retried", "fresh")] == [2, 1, 0]
    assert items["retried"].retry_count > 0
    assert items["suspended"].account.status == AccountStatus.SUSPENDED
    assert items["held"].content_id is None and items["oldest"].content_id is not None
    assert items["resolved"].status == PhaseStatus.COMPLETED
    in_review = [p for n, p in items.items() if n != "resolved"]
    assert {p.status for p in in_review} == {PhaseStatus.REVIEW_REQUIRED}
    assert ReviewItem.objects.filter(status=PhaseStatus.REVIEW_REQUIRED).count() == len(in_review)
    return items


def refused_by(method: str) -> set[str]:
    """The scenario's items `method` may not resolve, by what was done to them."""
    refused = {"resolved"}
    if method in ("resume", "retry"):
        refused.add("suspended")  # its account is not active
    if method == "retry":
        refused.add("held")  # nothing to retry with
    return refused


# --- The edges -----------------------------------------------------------------------------


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def item_page(user, method, ids):
    client = logged_in(user)
    for pk in ids:
        url = reverse("admin:reviews_reviewitem_act", args=[pk, method])
        assert client.post(url, WHY).status_code == 302


def review_api(user, method, ids):
    client = user_client(user)
    for pk in ids:
        response = client.post(review_url(pk, "resolve"), {"action": method, **WHY}, format="json")
        assert response.status_code in (200, 404, 409), response.content


def bulk_action(user, method, ids, *, across=False) -> list[str]:
    """The queue's bulk action, confirmed; returns the messages it showed."""
    data = {"action": method, ACTION_CHECKBOX_NAME: ids, "confirm": "yes", **WHY}
    if across:
        data.update({"select_across": "1", ACTION_CHECKBOX_NAME: ids[:1]})
    response = logged_in(user).post(QUEUE, data, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def command(user, method, ids):
    """resolve_reviews --ids; exit code 1 (some not changed) is a normal answer here."""
    args = ["--action", method, "--reason", WHY["reason_code"], "--note", WHY["note"]]
    try:
        call_command(
            "resolve_reviews",
            *args,
            "--user",
            user.username,
            "--ids",
            ",".join(map(str, ids)),
            stdout=StringIO(),
            stderr=StringIO(),
        )
    except CommandError as exc:
        assert exc.returncode == 1, exc


def one_by_one(edge):
    def run(user, method, ids):
        for pk in ids:
            edge(user, method, [pk])

    return run


EDGES = {
    # one by one
    "item page": item_page,
    "review API": review_api,
    "resolve_reviews, one id a run": one_by_one(command),
    # in bulk
    "queue bulk action": bulk_action,
    "queue bulk action across the queue": lambda *a: bulk_action(*a, across=True),
    "resolve_reviews, all ids": command,
}
BULK = {"queue bulk action", "queue bulk action across the queue", "resolve_reviews, all ids"}


# --- What a run wrote ----------------------------------------------------------------------


def capture(items, since_log: int) -> dict:
    """Every column of every phase of the scenario's accounts (the items and the steps after
    them, which a completion unlocks), of the accounts and of their attempts, and every review
    log row written since `since_log`, but for the columns two runs cannot share."""
    accounts = [p.account_id for p in items.values()]
    logs = ReviewLog.objects.filter(pk__gt=since_log)
    return {
        "phases": list(WarmupPhase.objects.filter(account__in=accounts).order_by("pk").values()),
        "accounts": list(Account.objects.filter(pk__in=accounts).order_by("pk").values()),
        "attempts": list(
            PhaseAttempt.objects.filter(phase__account__in=accounts).order_by("pk").values()
        ),
        "log": sorted(
            ({k: v for k, v in row.items() if k not in NOT_COMPARED} for row in logs.values()),
            key=lambda row: (row["phase_id"], row["action"]),
        ),
    }


def run_and_roll_back(edge, user, method, items) -> tuple[dict, list]:
    """Resolve the scenario's items through `edge`, capture what it wrote and the batch ids of
    the resolution rows, and roll it all back for the next run."""
    since = ReviewLog.objects.aggregate(last=Max("pk"))["last"]
    ids = sorted(p.pk for p in items.values())
    with transaction.atomic():
        edge(user, method, ids)
        written = capture(items, since)
        batches = list(
            ReviewLog.objects.filter(
                pk__gt=since, action__in=list(RESOLUTION_ACTIONS.values())
            ).values_list("batch", flat=True)
        )
        transaction.set_rollback(True)
    return written, batches


@pytest.mark.parametrize("method", METHODS)
def test_every_edge_writes_the_same_resolution_one_by_one_and_in_bulk(scenario, reviewer, method):
    before = capture(scenario, 0)

    runs = {
        name: run_and_roll_back(edge, reviewer, method, scenario) for name, edge in EDGES.items()
    }

    # the runs did resolve: the items allowed moved, each with one resolution row
    first, _ = runs["item page"]
    moved = {
        row["id"]
        for row in first["phases"]
        if row not in before["phases"] and row["id"] in {p.pk for p in scenario.values()}
    }
    refused = refused_by(method)
    assert moved == {p.pk for n, p in scenario.items() if n not in refused}
    assert sorted(r["phase_id"] for r in first["log"]) == sorted(moved)
    said = {
        (r["resolution_method"], r["reason_code"], r["note"], r["actor_user_id"])
        for r in first["log"]
    }
    assert said == {(method, WHY["reason_code"], WHY["note"], reviewer.pk)}
    for name, (written, batches) in runs.items():
        # every run wrote exactly what the first did
        for part in ("phases", "accounts", "attempts", "log"):
            assert written[part] == first[part], (name, part)
        # every resolution has a batch; a bulk run has one for all of them
        assert len(batches) == len(moved) and None not in batches, name
        if name in BULK:
            assert len(set(batches)) == 1, name
        else:
            assert len(set(batches)) == len(moved), name
        # the refused items are as they were
        for item in (scenario[n] for n in refused):
            after = next(row for row in written["phases"] if row["id"] == item.pk)
            assert after == next(row for row in before["phases"] if row["id"] == item.pk), name


# --- Undo ----------------------------------------------------------------------------------

BATCH_SAID = re.compile(r"Batch ([0-9a-f-]{36}); to undo it: manage\.py resolve_reviews --undo")
# An undo puts the whole row back as it was in review, but for when it last changed and, after
# a resume, when it became available (the resume's time, history an item in review ignores).
NOT_PUT_BACK = {"updated_at", "available_at"}


def review_fields(phase) -> dict:
    row = WarmupPhase.objects.filter(pk=phase.pk).values().get()
    return {k: v for k, v in row.items() if k not in NOT_PUT_BACK}


def next_phase(phase) -> dict:
    return (
        WarmupPhase.objects.filter(account_id=phase.account_id, order=phase.order + 1)
        .values("status", "available_at", "content_id")
        .get()
    )


@pytest.mark.parametrize("method", METHODS)
def test_a_bulk_resolution_in_the_queue_is_undone_by_its_batch(scenario, reviewer, method):
    resolved = [p for n, p in scenario.items() if n not in refused_by(method)]
    before = {p.pk: (review_fields(p), next_phase(p)) for p in resolved}

    # given: the queue's bulk action resolved them, and said its batch
    said = bulk_action(reviewer, method, sorted(p.pk for p in scenario.values()))
    batch = uuid.UUID(next(m.group(1) for m in map(BATCH_SAID.search, said) if m))
    assert {ReviewLog.objects.get(batch=batch, phase=p).phase_id for p in resolved} == set(before)
    assert all(review_fields(p) != before[p.pk][0] for p in resolved)

    # when: resolve_reviews undoes the batch
    call_command(
        "resolve_reviews",
        "--undo",
        str(batch),
        "--user",
        reviewer.username,
        "--note",
        "x",
        stdout=StringIO(),
    )

    # then: they are back in review as they were, their next steps locked again
    assert {p.pk: (review_fields(p), next_phase(p)) for p in resolved} == before
    assert {reload(p).status for p in resolved} == {PhaseStatus.REVIEW_REQUIRED}
    undone = ReviewLog.objects.filter(data__undoes_batch=str(batch))
    assert sorted(undone.values_list("phase_id", flat=True)) == sorted(before)
    assert {row.actor_user for row in undone} == {reviewer}
