"""The OpenAPI schema: it validates, documents every endpoint with its request, its answers
and its errors, is served with a Swagger UI from our own static files, and the API keeps to it,
for hand-made requests and under schemathesis-generated ones."""

import json
import re

import pytest
import schemathesis
import yaml
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from werkzeug.test import Client as WSGIClient

from config.wsgi import application
from tests.factories import (
    AccountFactory,
    BotFactory,
    UserFactory,
    WarmupPhaseFactory,
    api_token_key,
)

SCHEMA_URL = "/api/schema/"
BOT_PATHS = {
    "/api/v1/bot/phases/claim/": {"post"},
    "/api/v1/bot/phases/{phase_id}/": {"get"},
    "/api/v1/bot/phases/{phase_id}/heartbeat/": {"post"},
    "/api/v1/bot/phases/{phase_id}/complete/": {"post"},
    "/api/v1/bot/phases/{phase_id}/fail/": {"post"},
    "/api/v1/bot/accounts/{account_id}/": {"get"},
}
REVIEW_PATHS = {
    "/api/v1/reviews/": {"get"},
    "/api/v1/reviews/stats/": {"get"},
    "/api/v1/reviews/hold/": {"post"},
    "/api/v1/reviews/incidents/": {"get"},
    "/api/v1/reviews/incidents/{signature}/resolve/": {"post"},
    "/api/v1/reviews/{phase_id}/": {"get"},
    "/api/v1/reviews/{phase_id}/resolve/": {"post"},
    "/api/v1/reviews/{phase_id}/assign/": {"post"},
    "/api/v1/reviews/{phase_id}/comment/": {"post"},
    "/api/v1/reviews/{phase_id}/recategorize/": {"post"},
    "/api/v1/reviews/accounts/{account_id}/reactivate/": {"post"},
    "/api/v1/reviews/accounts/{account_id}/pause/": {"post"},
}
# Operations that act on a phase's current state answer 409 when it does not allow the act.
CONFLICTS = {
    "/api/v1/bot/phases/{phase_id}/heartbeat/",
    "/api/v1/bot/phases/{phase_id}/complete/",
    "/api/v1/bot/phases/{phase_id}/fail/",
    "/api/v1/reviews/hold/",
    "/api/v1/reviews/{phase_id}/resolve/",
    "/api/v1/reviews/{phase_id}/assign/",
    "/api/v1/reviews/{phase_id}/recategorize/",
    "/api/v1/reviews/accounts/{account_id}/reactivate/",
    "/api/v1/reviews/accounts/{account_id}/pause/",
}


def in_test_transaction(environ, start_response):
    """The project's WSGI application, minus Django's per-request connection housekeeping,
    which would close the connection holding the test's transaction (Django's own test
    client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            if hasattr(response, "close"):
                response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _localhost(settings):
    # Schemathesis and werkzeug send `Host: localhost`.
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]


@pytest.fixture
def openapi(client, db) -> dict:
    response = client.get(SCHEMA_URL, {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


# --- The document ---------------------------------------------------------------------------


def test_the_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"

    # --fail-on-warn: any warning of drf-spectacular (an unresolvable type, a missing
    # serializer, a name collision) is an error; --validate checks it against OpenAPI 3.1.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    document = yaml.safe_load(target.read_text())
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "Warmup review API"


def test_the_schema_is_served_as_yaml_and_json(client, db):
    as_yaml = client.get(SCHEMA_URL)
    as_json = client.get(SCHEMA_URL, {"format": "json"})

    assert as_yaml.status_code == as_json.status_code == 200
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert "json" in as_json["Content-Type"]
    assert yaml.safe_load(as_yaml.content) == json.loads(as_json.content)


def test_the_schema_has_exactly_the_contracts_endpoints(openapi):
    documented = {path: set(methods) for path, methods in openapi["paths"].items()}

    assert documented == {**BOT_PATHS, **REVIEW_PATHS}


def test_every_operation_documents_its_request_and_answer(openapi):
    for path, method, operation in operations(openapi):
        label = f"{method.upper()} {path}"
        assert operation.get("operationId"), label
        assert operation.get("summary"), label
        if method == "post":
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert "$ref" in body, label
        success = operation["responses"]["200"]
        assert success["content"]["application/json"]["schema"], label
    claim = openapi["paths"]["/api/v1/bot/phases/claim/"]["post"]["responses"]
    assert "content" not in claim["204"]  # nothing ready: no body


def test_every_operation_documents_its_errors(openapi):
    for path, method, operation in operations(openapi):
        label = f"{method.upper()} {path}"
        responses = operation["responses"]
        expected = {"401", "403"}
        if path.startswith("/api/v1/bot/"):
            expected.add("429")
        if method == "post":
            expected |= {"400", "413", "415"}
        if "{" in path or path == "/api/v1/reviews/hold/":
            expected.add("404")
        if path in CONFLICTS:
            expected.add("409")
        if path in ("/api/v1/reviews/", "/api/v1/reviews/stats/"):
            expected.add("400")  # bad filters or `since`
        assert expected <= set(responses), (label, expected - set(responses))
        for status in set(responses) - {"200", "204"}:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (label, status)
            assert responses[status]["description"], (label, status)


def test_the_error_shape_is_documented(openapi):
    error = openapi["components"]["schemas"]["Error"]

    assert set(error["required"]) == {"code", "detail"}
    assert {"code", "detail", "errors", "current_status", "choices"} <= set(error["properties"])


def test_each_api_declares_its_authentication(openapi):
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["botToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["botToken"]["description"],
    }
    for path, _, operation in operations(openapi):
        names = {name for requirement in operation["security"] for name in requirement}
        if path.startswith("/api/v1/bot/"):
            assert names == {"botToken"}, path
        else:
            assert "botToken" not in names and "reviewerToken" in names, path


# --- Swagger UI -----------------------------------------------------------------------------


def test_swagger_ui_is_served_from_our_own_static_files(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    # No CDN: nothing is fetched from another host.
    assert not re.search(r"https?://", page), re.findall(r"https?://[^\s\"']+", page)
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
        # ... and collectstatic would find every one of them.
        assert finders.find(asset.removeprefix("/static/")), asset
    # The page loads our schema.
    assert SCHEMA_URL in page


# --- Hand-made requests keep to the schema ----------------------------------------------------


@pytest.fixture
def loaded_schema(_localhost):
    return schemathesis.openapi.from_wsgi(SCHEMA_URL + "?format=json", in_test_transaction)


def test_success_answers_of_every_endpoint_conform(loaded_schema, content_pool):
    """Walk a bot and a reviewer through every endpoint; each answer must match the schema."""
    bot = BotFactory()
    reviewer = UserFactory(lead=True)  # a review lead may also pause and reactivate accounts
    wsgi = WSGIClient(in_test_transaction)
    as_bot = {"Authorization": f"Bearer {bot.token}"}
    as_reviewer = {"Authorization": f"Token {api_token_key(reviewer)}"}
    checked = set()

    def call(method, template, status, headers, body=None, query=None, **params):
        url = template.format(**params)
        response = wsgi.open(
            url, method=method.upper(), json=body, query_string=query, headers=headers
        )
        assert response.status_code == status, (url, response.get_data()[:300])
        loaded_schema[template][method.upper()].validate_response(response)
        checked.add((template, method))
        return response.get_json() if response.status_code != 204 else None

    p = "/api/v1/bot/phases/"
    call("post", p + "claim/", 204, as_bot, body={})
    first = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    claimed = call("post", p + "claim/", 200, as_bot, body={"platforms": [first.account.platform]})
    token = claimed["lease_token"]
    call(
        "post", p + "{phase_id}/heartbeat/", 200, as_bot, {"lease_token": token}, phase_id=first.pk
    )
    call(
        "post",
        p + "{phase_id}/fail/",
        200,
        as_bot,
        {"lease_token": token, "category": "network_error", "reason": "t", "details": {"a": 1}},
        phase_id=first.pk,
    )
    call("get", p + "{phase_id}/", 200, as_bot, phase_id=first.pk)
    call("get", "/api/v1/bot/accounts/{account_id}/", 200, as_bot, account_id=first.account_id)
    second = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_progress=True)
    call(
        "post",
        p + "{phase_id}/complete/",
        200,
        as_bot,
        {"lease_token": str(second.lease_token), "result": {"ok": True}},
        phase_id=second.pk,
    )
    call("post", p + "{phase_id}/complete/", 409, as_bot, {"lease_token": token}, phase_id=first.pk)

    r = "/api/v1/reviews/"
    item = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    incident = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    waiting = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    call("get", r, 200, as_reviewer, query={"assignee": "none"})
    call("get", r + "{phase_id}/", 200, as_reviewer, phase_id=item.pk)
    call("post", r + "{phase_id}/assign/", 200, as_reviewer, {}, phase_id=item.pk)
    call("post", r + "{phase_id}/comment/", 200, as_reviewer, {"note": "n"}, phase_id=item.pk)
    call(
        "post",
        r + "{phase_id}/recategorize/",
        200,
        as_reviewer,
        {"category": "login_failed", "note": "n"},
        phase_id=item.pk,
    )
    call(
        "post",
        r + "{phase_id}/resolve/",
        200,
        as_reviewer,
        {"action": "skip", "reason_code": "other", "note": "n"},
        phase_id=item.pk,
    )
    call("get", r + "{phase_id}/", 200, as_reviewer, phase_id=item.pk)  # with a full log
    call("get", r + "incidents/", 200, as_reviewer)
    call(
        "post",
        r + "incidents/{signature}/resolve/",
        200,
        as_reviewer,
        {"action": "skip", "reason_code": "other", "note": "n"},
        signature=incident.review_signature_id,
    )
    call("post", r + "hold/", 200, as_reviewer, {"phase": waiting.pk, "note": "n"})
    call("get", r + "stats/", 200, as_reviewer, query={"since": "2020-01-01T00:00:00Z"})
    call("get", r, 404, as_reviewer, query={"page": 99})
    a = r + "accounts/{account_id}/"
    call("post", a + "pause/", 200, as_reviewer, {"note": "n"}, account_id=waiting.account_id)
    call("post", a + "reactivate/", 200, as_reviewer, {"note": "n"}, account_id=waiting.account_id)

    assert checked >= {(path, m) for path, ms in {**BOT_PATHS, **REVIEW_PATHS}.items() for m in ms}


# --- Generated requests: schemathesis over the whole schema -----------------------------------

CONFIG = SchemathesisConfig.from_dict({"seed": 20240601, "generation": {"max-examples": 25}})

# Loaded once at import (collection): the schema request needs no database, only a host
# Django accepts.
with override_settings(ALLOWED_HOSTS=["localhost"]):
    schema = schemathesis.openapi.from_wsgi(
        SCHEMA_URL + "?format=json", in_test_transaction, config=CONFIG
    )

# Ids of the objects the running test seeded: a generated path parameter is either anything
# the schema allows (mostly unknown ids: 404) or one of these, so the endpoints also answer
# about real phases and accounts.
KNOWN: dict[str, list] = {}


def seeded_path_ids(known: dict[str, list[int]]):
    """A schemathesis hook: a path id is anything the schema allows or one of `known`'s ids
    for that parameter (filled by the running test)."""

    def before_generate_path_parameters(context, strategy):
        names = [parameter.name for parameter in context.operation.path_parameters]
        if not names:
            return strategy
        [name] = names
        seeded = st.integers(min_value=0, max_value=99).map(
            lambda i: {name: str(known[name][i % len(known[name])])}
        )
        return strategy | seeded

    return before_generate_path_parameters


schema.hook(seeded_path_ids(KNOWN))


@pytest.fixture
def seeded(db, content_pool):
    """A few accounts in various states, content, an item in review, a lease of another bot."""
    bot, other = BotFactory(), BotFactory()
    in_review = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_review=True)
    done = WarmupPhaseFactory(account=AccountFactory(), bot=bot, completed=True)
    held = WarmupPhaseFactory(account=AccountFactory(), bot=bot, in_progress=True)
    foreign = WarmupPhaseFactory(
        account=AccountFactory(platform="tiktok"), bot=other, in_progress=True
    )
    waiting = WarmupPhaseFactory(account=AccountFactory(), content_assigned=True)
    AccountFactory()  # available, no content yet
    reviewer = UserFactory(reviewer=True)
    KNOWN["phase_id"] = [in_review.pk, done.pk, held.pk, foreign.pk, waiting.pk]
    KNOWN["account_id"] = [in_review.account_id, done.account_id, held.account_id]
    KNOWN["signature"] = [in_review.review_signature_id]
    return {
        "bot": {"Authorization": f"Bearer {bot.token}"},
        "reviewer": {"Authorization": f"Token {api_token_key(reviewer)}"},
    }


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_schema(case, seeded):
    cache.clear()  # the bot's rate limit is not what this test is about
    headers = seeded["bot"] if case.path.startswith("/api/v1/bot/") else seeded["reviewer"]
    case.call_and_validate(
        headers=headers,
        checks=[
            schemathesis.checks.not_a_server_error,
            schemathesis.checks.response_schema_conformance,
            schemathesis.checks.status_code_conformance,
            schemathesis.checks.content_type_conformance,
        ],
    )
