"""The last 500s of an attacker-style run (issue #20): a lone surrogate in an API body, a bulk
action with a selection that is not ids, and JSON nested or sized past what is stored. Each is
a clear refusal now (400 with a stable code on the APIs, a message or a form error in the
admin) and changes nothing. Lookups in the admin's lists: tests/reviews/admin/test_admin_lookups.py.
"""

from __future__ import annotations

import json

import pytest
from django.contrib import messages as django_messages
from django.test import Client
from django.urls import reverse

from reviews.models import ReviewItem
from tests.builders import stored
from tests.clients import CLAIM, assert_error, changelist, claim, phase_url, review_url
from tests.factories import AccountFactory, UserFactory, WarmupPhaseFactory
from warmup.domain.errors import JSON_TOO_BIG, JSON_TOO_DEEP, InvalidInput
from warmup.domain.validation import JSON_MAX_CHARS, JSON_MAX_DEPTH, validate_json_document
from warmup.models import Account, Bot, PhaseAttempt, PhaseTemplate, WarmupPhase, WarmupPlan

pytestmark = pytest.mark.django_db

JSON = "application/json"
LONE = "\ud800"  # a lone surrogate: no UTF-8 can encode it


def post_escaped(client, url, body: dict):
    """POST with the standard library's encoder: a lone surrogate goes out as the ASCII escape
    `\\ud800`, which is valid JSON (the test client's own encoder refuses it)."""
    return client.post(url, json.dumps(body), content_type=JSON)


def nested(depth: int, leaf=1):
    """A JSON value `depth` objects deep: {"a": {"a": ... leaf}}."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.fixture
def held(account, bot_api):
    """(phase id, lease token) of a phase the bot holds."""
    WarmupPhaseFactory(account=account, content_assigned=True)
    body = claim(bot_api).json()
    return body["id"], body["lease_token"]


@pytest.fixture
def item(bot):
    return WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)


# --- 1. Lone surrogates in an API body ------------------------------------------------------


RESOLVE = {"action": "resume", "reason_code": "fixed_credentials", "note": "fixed"}


@pytest.mark.parametrize(
    "field, body",
    [
        ("action", {**RESOLVE, "action": LONE}),
        ("reason_code", {**RESOLVE, "reason_code": LONE}),
        ("note", {**RESOLVE, "note": f"fixed {LONE}"}),
        ("key", {**RESOLVE, LONE: "x"}),
    ],
)
def test_a_lone_surrogate_in_a_resolution_is_a_400_invalid_unicode(reviewer_api, item, field, body):
    before = stored(item)

    response = post_escaped(reviewer_api, review_url(item.pk, "resolve"), body)

    answer = assert_error(response, 400, "invalid_unicode")
    assert LONE not in answer["detail"]
    assert stored(item) == before


def test_a_lone_surrogate_as_a_new_category_is_a_400_invalid_unicode(reviewer_api, item):
    before = stored(item)

    response = post_escaped(
        reviewer_api, review_url(item.pk, "recategorize"), {"category": LONE, "note": "typo"}
    )

    assert_error(response, 400, "invalid_unicode")
    assert stored(item) == before


def test_a_lone_surrogate_among_the_platforms_of_a_claim_is_a_400_invalid_unicode(account, bot_api):
    WarmupPhaseFactory(account=account, content_assigned=True)

    response = post_escaped(bot_api, CLAIM, {"platforms": ["instagram", LONE]})

    assert_error(response, 400, "invalid_unicode")
    assert not WarmupPhase.objects.filter(status="in_progress").exists()


@pytest.mark.parametrize(
    "changes",
    [{"category": LONE}, {"category": "\udfff\ud800x"}, {"reason": LONE}, {"details": {"k": LONE}}],
    ids=["category", "category-reversed-pair", "reason", "details"],
)
def test_a_lone_surrogate_in_a_failure_report_is_a_400_invalid_unicode(bot_api, held, changes):
    phase_id, token = held
    before = WarmupPhase.objects.filter(pk=phase_id).values().get()
    body = {"lease_token": token, "category": "network_error", "reason": "timeout", **changes}

    response = post_escaped(bot_api, phase_url(phase_id, "fail"), body)

    assert_error(response, 400, "invalid_unicode")
    assert WarmupPhase.objects.filter(pk=phase_id).values().get() == before


def test_a_proper_surrogate_pair_is_text_like_any_other(bot_api, held):
    """An escaped pair (an emoji) is valid JSON text: it is stored and answered as sent."""
    phase_id, token = held
    body = {"lease_token": token, "category": "network_error", "reason": "boom \U0001f4a5"}

    response = bot_api.post(phase_url(phase_id, "fail"), json.dumps(body), content_type=JSON)

    assert response.status_code == 200, response.content
    assert WarmupPhase.objects.get(pk=phase_id).last_failure_reason == "boom \U0001f4a5"


# --- 3. A bulk action with a selection that is not ids -------------------------------------


@pytest.fixture
def superuser(db):
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def _messages(response) -> list[tuple[int, str]]:
    return [(m.level, m.message) for m in response.wsgi_request._messages]


BAD_SELECTIONS = [["abc"], ["1.5"], [""], ["1", "abc"], ["9" * 30], ["\u0663x"]]


@pytest.mark.parametrize("selected", BAD_SELECTIONS, ids=repr)
@pytest.mark.parametrize(
    "model, action",
    [
        (ReviewItem, "assign_to_me"),
        (ReviewItem, "resume"),
        (Account, "pause_accounts"),
        (Account, "hold_accounts"),
        (Bot, "deactivate"),
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_a_bulk_action_on_a_selection_that_is_not_ids_says_so_and_changes_nothing(
    superuser, item, model, action, selected
):
    url = changelist(model)
    before = (stored(item), list(Account.objects.values()), list(Bot.objects.values()))

    for confirm in ({}, {"confirm": "yes"}):  # the first pass and the confirmed one
        response = superuser.post(
            url,
            {"action": action, "_selected_action": selected, "index": "0", **confirm},
            follow=True,
        )

        assert response.status_code == 200
        said = _messages(response)
        assert any(level == django_messages.ERROR and "not valid" in text for level, text in said)
    assert (stored(item), list(Account.objects.values()), list(Bot.objects.values())) == before


def test_a_bulk_action_on_real_ids_still_works(superuser, item):
    response = superuser.post(
        changelist(ReviewItem),
        {"action": "assign_to_me", "_selected_action": [str(item.pk)], "index": "0"},
        follow=True,
    )

    assert response.status_code == 200
    assert WarmupPhase.objects.get(pk=item.pk).review_assignee_id is not None


# --- 4. JSON too deep or too big for a stored field ----------------------------------------


def _form_data(response) -> dict:
    """What the admin's change page would post back as it is: every field of the main form
    and of each inline form (as its widgets would send it), with the management forms."""
    forms = [response.context["adminform"].form]
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        forms += formset.forms
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None:
                data[form.add_prefix(name)] = value
    return data


@pytest.mark.parametrize(
    "overrides",
    [
        "[" * 5000 + "]" * 5000,  # what broke it: a RecursionError while parsing
        "{" + '"a":{' * 5000 + "}" * 5001,
        json.dumps(nested(JSON_MAX_DEPTH + 1)),  # parses, but deeper than anything stored
        json.dumps({"network_error": {"note": "x" * (JSON_MAX_CHARS + 1)}}),
    ],
    ids=["list-5000", "object-5000", "one-level-too-deep", "too-big"],
)
def test_a_plan_step_with_retry_overrides_too_deep_or_too_big_is_a_form_error(
    superuser, content_pool, overrides
):
    plan = WarmupPlan.objects.get(slug="default")
    url = reverse("admin:warmup_warmupplan_change", args=[plan.pk])
    data = _form_data(superuser.get(url))
    first = next(key for key in data if key.endswith("-retry_overrides"))
    data[first] = overrides
    before = list(PhaseTemplate.objects.filter(plan=plan).values().order_by("pk"))

    response = superuser.post(url, data)

    assert response.status_code == 200  # the page again, with the error
    errors = " ".join(
        str(error)
        for formset in response.context["inline_admin_formsets"]
        for error in formset.formset.errors
    )
    assert "nested deeper" in errors or "longer than" in errors, errors
    assert list(PhaseTemplate.objects.filter(plan=plan).values().order_by("pk")) == before


def test_the_plan_page_saves_sane_retry_overrides(superuser, content_pool):
    """The control: the same page with a small override saves it."""
    plan = WarmupPlan.objects.get(slug="default")
    url = reverse("admin:warmup_warmupplan_change", args=[plan.pk])
    data = _form_data(superuser.get(url))
    first = next(key for key in data if key.endswith("-retry_overrides"))
    data[first] = json.dumps({"network_error": {"max_retries": 5}})

    response = superuser.post(url, data)

    assert response.status_code == 302, response.context and [
        f.formset.errors for f in response.context["inline_admin_formsets"]
    ]
    assert PhaseTemplate.objects.filter(
        plan=plan, retry_overrides={"network_error": {"max_retries": 5}}
    ).exists()


@pytest.mark.parametrize(
    "value, status, code",
    [
        # A body can carry no more than a JSON field may hold: the body's limits answer first
        # (JSONObjectField checks again, should a body ever be allowed more).
        (nested(JSON_MAX_DEPTH), 400, "parse_error"),
        ({"blob": "x" * (JSON_MAX_CHARS + 1)}, 413, "payload_too_large"),
    ],
    ids=["too-deep", "too-big"],
)
@pytest.mark.parametrize("action, field", [("fail", "details"), ("complete", "result")])
def test_a_report_with_json_too_deep_or_too_big_is_refused_and_changes_nothing(
    bot_api, held, action, field, value, status, code
):
    phase_id, token = held
    body = {"lease_token": token, field: value}
    if action == "fail":
        body.update(category="network_error", reason="timeout")
    before = WarmupPhase.objects.filter(pk=phase_id).values().get()

    response = bot_api.post(phase_url(phase_id, action), json.dumps(body), content_type=JSON)

    assert_error(response, status, code)
    assert WarmupPhase.objects.filter(pk=phase_id).values().get() == before
    assert not PhaseAttempt.objects.filter(phase_id=phase_id, finished_at__isnull=False).exists()


@pytest.mark.parametrize(
    "value, message",
    [
        (nested(JSON_MAX_DEPTH + 1), JSON_TOO_DEEP.format(depth=JSON_MAX_DEPTH)),
        ({"a": "x" * JSON_MAX_CHARS}, JSON_TOO_BIG.format(chars=JSON_MAX_CHARS)),
        ([nested(JSON_MAX_DEPTH - 1)] * 3, None),
    ],
    ids=["too-deep", "too-big", "within"],
)
def test_one_validator_says_which_limit_a_json_value_passes(value, message):
    if message is None:
        assert validate_json_document(value, field="details") is value
        return
    with pytest.raises(InvalidInput) as raised:
        validate_json_document(value, field="details")
    assert (raised.value.message, raised.value.field) == (message, "details")


def test_a_report_with_json_just_within_the_limits_is_stored(bot_api, held):
    phase_id, token = held
    details = {"deep": nested(JSON_MAX_DEPTH - 2)}  # the body around it is one level more
    body = {"lease_token": token, "category": "network_error", "reason": "t", "details": details}

    response = bot_api.post(phase_url(phase_id, "fail"), json.dumps(body), content_type=JSON)

    assert response.status_code == 200, response.content
    assert WarmupPhase.objects.get(pk=phase_id).last_failure_details == details
