"""The API contract, proven against real answers: a bot's cycle and a reviewer's work run over
HTTP against the live server, and every answer (its status, its Content-Type and its body) is
validated against the schema the server serves, twice: ignoring formats, as client generators
do, and checking them (date-time, uri, uuid). Strictly: an object may carry no property the
schema does not declare, and every operation of the schema is exercised."""

from __future__ import annotations

import copy
import re

import pytest
import requests
from django.core.cache import cache
from jsonschema import Draft202012Validator

from tests.factories import (
    AccountFactory,
    BotFactory,
    ContentItemFactory,
    UserFactory,
    WarmupPhaseFactory,
    api_token_key,
)
from warmup.models import PhaseStatus

pytestmark = pytest.mark.django_db(transaction=True)


def strict(document: dict) -> dict:
    """The schema with every declared object closed: no property beyond those it names."""
    document = copy.deepcopy(document)

    def close(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for item in node:
                close(item)

    close(document["components"])
    return document


class Contract:
    """The served schema, and a record of the answers checked against it."""

    def __init__(self, document: dict):
        self.document = strict(document)
        self.loose = Draft202012Validator(self.document)
        self.with_formats = Draft202012Validator(
            self.document, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        # Literal paths first: /reviews/stats/ is not /reviews/{phase_id}/.
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in sorted(self.document["paths"], key=lambda path: path.count("{"))
        ]
        self.checked: set[tuple[str, str, str]] = set()

    def operation(self, method: str, path: str) -> tuple[str, dict]:
        for pattern, template in self.templates:
            if pattern.match(path) and method in self.document["paths"][template]:
                return template, self.document["paths"][template][method]
        raise AssertionError(f"{method.upper()} {path} is not in the schema")

    def check(self, response: requests.Response, *args, **kwargs) -> None:
        method = response.request.method.lower()
        path = requests.utils.urlparse(response.request.url).path
        template, operation = self.operation(method, path)
        where = f"{method.upper()} {path} -> {response.status_code}"
        declared = operation["responses"].get(str(response.status_code))
        assert declared is not None, f"{where}: status not in the schema"
        content = declared.get("content")
        if not content:
            assert response.content == b"", f"{where}: a body where the schema has none"
        else:
            media_type = response.headers["Content-Type"].split(";")[0]
            assert media_type in content, f"{where}: Content-Type {media_type}"
            schema = content[media_type]["schema"]
            body = response.json()
            for validator in (self.loose, self.with_formats):
                errors = list(validator.evolve(schema=schema).iter_errors(body))
                assert not errors, f"{where}: {[e.message for e in errors][:5]}"
        for name, header in declared.get("headers", {}).items():
            if header.get("required"):
                assert name in response.headers, f"{where}: header {name} missing"
        self.checked.add((template, method, str(response.status_code)))


@pytest.fixture
def api(live_server, default_plan):
    cache.clear()  # throttle counters of earlier tests
    document = requests.get(live_server.url + "/api/schema/?format=json", timeout=10).json()
    contract = Contract(document)

    def session(authorization: str | None) -> requests.Session:
        http = requests.Session()
        if authorization:
            http.headers["Authorization"] = authorization
        http.hooks["response"].append(contract.check)
        return http

    return live_server.url, contract, session


def test_a_bot_cycle_keeps_to_the_schema(api, content_pool):
    url, contract, session = api
    bot = BotFactory()
    as_bot = session(f"Bearer {bot.token}")
    phases = url + "/api/v1/bot/phases/"

    assert as_bot.post(phases + "claim/", json={}).status_code == 204
    first = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    claimed = as_bot.post(phases + "claim/", json={}).json()
    lease = {"lease_token": claimed["lease_token"]}
    pk = claimed["id"]
    assert as_bot.post(f"{phases}{pk}/heartbeat/", json=lease).status_code == 200
    failed = as_bot.post(
        f"{phases}{pk}/fail/",
        json={**lease, "category": "network_error", "reason": "timeout", "details": {"s": 30}},
    )
    assert failed.json()["outcome"] == "retry_scheduled"
    again = as_bot.post(phases + "claim/", json={"platforms": ["instagram", "tiktok", "x"]})
    if again.status_code == 204:  # the other account is on another platform
        again = as_bot.post(phases + "claim/", json={})
    second = again.json()
    assert second["id"] != pk  # the first waits for its retry time
    done = as_bot.post(
        f"{phases}{second['id']}/complete/",
        json={"lease_token": second["lease_token"], "result": {"posted": True}},
    )
    assert done.json()["status"] == PhaseStatus.COMPLETED
    assert as_bot.get(f"{phases}{pk}/").json()["last_failure"]["category"] == "network_error"
    assert as_bot.get(f"{url}/api/v1/bot/accounts/{first.account_id}/").status_code == 200
    # The answers a bot must handle: a stale lease, an unknown phase, bad input, no token.
    assert as_bot.post(f"{phases}{pk}/complete/", json=lease).status_code == 409
    assert as_bot.get(f"{phases}999999/").status_code == 404
    assert as_bot.post(f"{phases}{pk}/fail/", json={**lease, "category": "x"}).status_code == 400
    assert session(None).post(phases + "claim/", json={}).status_code == 401

    bot_operations = {(t, m) for t, m, _ in contract.checked}
    assert bot_operations == {
        (path, method)
        for path, operations in contract.document["paths"].items()
        if path.startswith("/api/v1/bot/")
        for method in operations
    }


def test_a_reviewers_work_keeps_to_the_schema(api, content_pool):
    url, contract, session = api
    bot = BotFactory()
    lead = UserFactory(lead=True)
    lead_key = api_token_key(lead)
    as_lead = session(f"Bearer {lead_key}")
    ContentItemFactory(phase_type="profile_bio", media_url="https://cdn.example.com/a.jpg")
    items = [
        WarmupPhaseFactory(
            account=AccountFactory(), bot=bot, in_review=True, category="login_failed"
        )
        for _ in range(3)
    ]
    held = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    reviews = url + "/api/v1/reviews/"
    item = items[0]

    filters = [
        {"category": "login_failed"},
        {"phase_type": item.phase_type},
        {"platform": item.account.platform},
        {"escalation_level": 0},
        {"assignee": "none"},
        {"assignee": "me"},
        {"min_age": 0},
        {"bot": bot.name},
        {"page": 1, "page_size": 2},
    ]
    for query in filters:
        page = as_lead.get(reviews, params=query)
        assert page.status_code == 200, query
    assert as_lead.get(reviews, params={"page": 2, "page_size": 2}).json()["previous"]
    assert as_lead.get(f"{reviews}{item.pk}/").json()["id"] == item.pk
    assert as_lead.post(f"{reviews}{item.pk}/assign/", json={}).status_code == 200
    assert as_lead.post(f"{reviews}{item.pk}/comment/", json={"note": "on it"}).status_code == 200
    recategorized = as_lead.post(
        f"{reviews}{item.pk}/recategorize/",
        json={"category": "challenge_required", "note": "it was a challenge"},
    )
    assert recategorized.json()["failure"]["category"] == "challenge_required"
    resolved = as_lead.post(
        f"{reviews}{item.pk}/resolve/",
        json={"action": "skip", "reason_code": "solved_challenge", "note": "done by hand"},
    )
    assert resolved.json()["completion_method"] == "skipped"
    history = as_lead.get(f"{reviews}{item.pk}/").json()["review_log"]
    resolution = next(row for row in history if row["resolution_method"])
    assert isinstance(resolution["time_in_review"], float)
    held_now = as_lead.post(f"{reviews}hold/", json={"phase": held.pk, "note": "looks odd"})
    assert held_now.json()["status"] == PhaseStatus.REVIEW_REQUIRED
    account = f"{reviews}accounts/{items[1].account_id}/"
    assert as_lead.post(account + "pause/", json={"note": "resting"}).status_code == 200
    assert as_lead.post(account + "reactivate/", json={"note": "rested"}).status_code == 200
    stats = as_lead.get(f"{reviews}stats/", params={"since": "2020-01-01T00:00:00Z"})
    assert stats.json()["resolutions"]["skip"]["count"] == 1
    # The incidents: the two login failures left are one, resolved whole.
    incidents = as_lead.get(f"{reviews}incidents/").json()
    login = next(one for one in incidents if one["category"] == "login_failed")
    assert login["waiting"] == 2
    whole = as_lead.post(
        f"{reviews}incidents/{login['signature']}/resolve/",
        json={"action": "skip", "reason_code": "other", "note": "pool retired"},
    )
    assert whole.json()["resolved"] == 2
    # The answers a reviewer's client must handle.
    again = {"action": "resume", "reason_code": "other", "note": "again"}
    assert as_lead.post(f"{reviews}{item.pk}/resolve/", json=again).status_code == 409
    assert as_lead.post(f"{reviews}{items[1].pk}/resolve/", json={}).status_code == 400
    assert as_lead.get(f"{reviews}999999/").status_code == 404
    assert as_lead.get(f"{reviews}stats/", params={"since": "yesterday"}).status_code == 400
    assert session(None).get(reviews).status_code == 401
    assert session(f"Bearer {'0' * 40}").get(reviews).status_code == 401
    as_viewer = session(f"Bearer {api_token_key(UserFactory(is_staff=True))}")
    assert as_viewer.get(reviews).status_code == 403
    # DRF's own prefix keeps working for clients written before the bearer scheme.
    assert session(f"Token {lead_key}").get(reviews).status_code == 200

    review_operations = {(t, m) for t, m, _ in contract.checked}
    assert review_operations == {
        (path, method)
        for path, operations in contract.document["paths"].items()
        if path.startswith("/api/v1/reviews/")
        for method in operations
    }


def test_the_strict_check_catches_an_undeclared_property_and_a_bad_format(api):
    """The validators above can fail: a body with an extra field, or a date that is not one."""
    _, contract, _ = api
    schema = {"$ref": "#/components/schemas/Heartbeat"}
    extra = {"lease_expires_at": "2026-01-01T00:00:00Z", "surprise": 1}
    not_a_date = {"lease_expires_at": "tomorrow"}

    assert list(contract.loose.evolve(schema=schema).iter_errors(extra))
    assert not list(contract.loose.evolve(schema=schema).iter_errors(not_a_date))
    assert list(contract.with_formats.evolve(schema=schema).iter_errors(not_a_date))
