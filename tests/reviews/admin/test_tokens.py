"""Reviewers make their own review API token in the admin, and only their own. A token is kept
as its prefix and hash: its key is shown once, when it is made, and no address of any list
(lookup, search, ordering) can find a token by its key, or by a part of it (issue #20)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from reviews.admin import tokens as tokens_admin
from reviews.models import ApiToken
from tests.browser import log_in, shot, with_password
from tests.clients import REVIEWS, changelist
from tests.factories import UserFactory, api_token_key
from warmup.domain.tokens import token_hash

pytestmark = pytest.mark.django_db

ADD = reverse("admin:reviews_apitoken_add")
LIST = reverse("admin:reviews_apitoken_changelist")


def logged_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def shown_key(response) -> str:
    match = re.search(r'value="([^"]+)"[^>]*id="api-token"', response.content.decode())
    assert match, response.content.decode()[:2000]
    return match.group(1)


def test_a_reviewer_makes_their_own_token_and_it_opens_the_review_api():
    reviewer, other = UserFactory(reviewer=True), UserFactory(reviewer=True)
    client = logged_in(reviewer)

    # Naming someone else changes nothing: a reviewer's token is their own.
    created = client.post(ADD, {"user": other.pk, "_save": "Save"})

    assert ApiToken.objects.get().user == reviewer
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {shown_key(created)}")
    assert api.get(REVIEWS).status_code == 200


def test_a_reviewer_sees_only_their_own_token_and_cannot_make_a_second():
    reviewer, other = UserFactory(reviewer=True), UserFactory(reviewer=True)
    api_token_key(reviewer)
    api_token_key(other)
    client = logged_in(reviewer)

    listing = client.get(LIST).content.decode()

    assert reviewer.username in listing and other.username not in listing
    assert client.get(ADD).status_code == 403


def test_a_second_save_that_finds_a_token_made_meanwhile_says_so_instead_of_a_500(monkeypatch):
    reviewer = UserFactory(reviewer=True)
    client = logged_in(reviewer)
    form = client.get(ADD)  # the form, while the reviewer has no token yet
    assert form.status_code == 200
    made = tokens_admin.api_token_create

    def the_other_save_first(*, user):
        made(user=user)  # the other click's request, between this one's checks and its save
        return made(user=user)

    monkeypatch.setattr(tokens_admin, "api_token_create", the_other_save_first)
    second = client.post(ADD, {"_save": "Save"}, follow=True)

    assert second.status_code == 200
    assert second.redirect_chain[-1][0] == LIST
    messages = re.findall(r'<li class="error">(.*?)</li>', second.content.decode())
    assert messages == [f"{reviewer.username.capitalize()} already has an API token; revoke it "
                        "to make another."]  # fmt: skip


def test_a_superuser_makes_a_token_for_someone_who_has_none_only():
    reviewer = UserFactory(reviewer=True)
    root = logged_in(UserFactory(is_superuser=True))
    shown_key(root.post(ADD, {"user": reviewer.pk, "_save": "Save"}))

    again = root.post(ADD, {"user": reviewer.pk, "_save": "Save"})

    assert again.status_code == 200  # the form again, with the reason
    assert "already exists" in again.content.decode()
    assert ApiToken.objects.filter(user=reviewer).count() == 1


def test_a_token_is_stored_as_its_prefix_and_hash_only():
    reviewer = UserFactory(reviewer=True)

    key = shown_key(logged_in(reviewer).post(ADD, {"_save": "Save"}))

    token = ApiToken.objects.get(user=reviewer)
    stored = [str(value) for value in ApiToken.objects.values_list().get()]
    assert not any(key in value or value in key for value in stored if len(value) > 12)
    assert key.startswith(f"wr_{token.token_prefix}_")
    assert token.token_hash == token_hash(key)


# --- No address of a list finds a token by its key --------------------------------------------


@pytest.fixture
def tokens():
    """Two reviewers' tokens, and a superuser (who sees every token and every list)."""
    keys = [api_token_key(UserFactory(reviewer=True)) for _ in range(2)]
    return keys, logged_in(UserFactory(is_superuser=True))


# The key itself, a first character (640 guesses took a whole key, one character at a time),
# the stored prefix and hash, through the token and from the users' list. Each takes the key,
# its stored prefix and its stored hash.
User = get_user_model()
LOOKUPS = [
    (ApiToken, "key__startswith", lambda key, prefix, digest: key[:1]),
    (ApiToken, "key", lambda key, prefix, digest: key),
    (ApiToken, "key__regex", lambda key, prefix, digest: f"^{key[:4]}"),
    (ApiToken, "token_prefix__startswith", lambda key, prefix, digest: prefix[:1]),
    (ApiToken, "token_prefix", lambda key, prefix, digest: prefix),
    (ApiToken, "token_hash__startswith", lambda key, prefix, digest: digest[:2]),
    (ApiToken, "user__api_token__token_prefix", lambda key, prefix, digest: prefix),
    (User, "api_token__token_prefix__startswith", lambda key, prefix, digest: prefix[:1]),
    (User, "api_token__token_hash", lambda key, prefix, digest: digest),
    (User, "auth_token__key__startswith", lambda key, prefix, digest: key[:1]),
]


@pytest.mark.parametrize(
    "model, lookup, value", LOOKUPS, ids=[f"{m._meta.model_name}-{q}" for m, q, _ in LOOKUPS]
)
def test_a_lookup_on_a_key_is_the_list_with_e1_and_tells_nothing(tokens, model, lookup, value):
    keys, root = tokens
    url = changelist(model)
    guesses = []
    for key in keys:
        token = ApiToken.objects.get(token_prefix=key.split("_")[1])
        guesses.append(value(key, token.token_prefix, token.token_hash))
    guesses.append(value("wr_ffffffffffff_x", "f" * 12, "f" * 64))  # a wrong guess

    answers = [root.get(url, {lookup: guess}) for guess in guesses]

    # A right guess and a wrong one get the same answer: the list, with `?e=1`.
    for answer in answers:
        assert answer.status_code == 302, answer.status_code
        assert answer["Location"] == f"{url}?e=1"
    assert root.get(f"{url}?e=1").status_code == 200


@pytest.mark.parametrize("part", ["key", "key[:8]", "prefix", "digest"])
def test_a_search_of_the_token_list_never_matches_a_key(tokens, part):
    keys, root = tokens
    token = ApiToken.objects.get(token_prefix=keys[0].split("_")[1])
    values = {
        "key": keys[0],
        "key[:8]": keys[0][:8],
        "prefix": token.token_prefix,
        "digest": token.token_hash,
    }

    found = root.get(LIST, {"q": values[part]})

    assert found.status_code == 200
    assert token.user.username not in found.content.decode()
    # The search looks for owners.
    assert token.user.username in root.get(LIST, {"q": token.user.username}).content.decode()


@pytest.mark.parametrize("order", ["0", "-1", "1.0", "2", "3", "-3.2.1"])
def test_any_ordering_of_the_token_list_shows_no_key(tokens, order):
    keys, root = tokens

    listing = root.get(LIST, {"o": order}, follow=True)

    assert listing.status_code == 200
    page = listing.content.decode()
    assert not any(key in page or key.split("_", 2)[2][:8] in page for key in keys)


# --- In a browser: what a person sees ---------------------------------------------------------


def test_in_a_browser_a_key_is_shown_once_and_the_lists_show_owners_only(page):
    reviewer = with_password(UserFactory(reviewer=True))
    api_token_key(UserFactory(reviewer=True, username="someone-else"))
    log_in(page, reviewer)

    page.goto(ADD)
    shot(page, "token-add")
    page.click("input[name=_save]")
    key = page.input_value("#api-token")
    assert key.startswith("wr_")
    assert "shown this once" in page.inner_text("#content")
    shot(page, "token-created")

    page.click("text=Back to the tokens")
    listing = page.inner_text("#result_list")
    assert reviewer.username in listing and "someone-else" not in listing
    assert key not in page.content() and key.split("_", 2)[2][:8] not in page.content()
    shot(page, "token-list")
    page.goto(f"{LIST}?key__startswith={key[:1]}")
    assert page.url.endswith(f"{LIST}?e=1")

    # A superuser sees every owner, and no key either.
    page.context.clear_cookies()
    log_in(page, with_password(UserFactory(is_superuser=True)))
    page.goto(LIST)
    listing = page.inner_text("#result_list")
    assert reviewer.username in listing and "someone-else" in listing
    assert key not in page.content()
    shot(page, "token-list-superuser")
