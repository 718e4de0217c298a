"""`create_api_token USERNAME` makes a user's review API token and prints it once, last."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from reviews.management.commands.create_api_token import USER_UNKNOWN
from reviews.models import ApiToken
from tests.clients import REVIEWS
from tests.factories import UserFactory, api_token_key
from warmup.domain.errors import API_TOKEN_EXISTS

pytestmark = pytest.mark.django_db


def test_the_printed_key_opens_the_review_api_and_is_not_stored(capsys):
    reviewer = UserFactory(reviewer=True)

    call_command("create_api_token", reviewer.username)

    key = capsys.readouterr().out.strip().splitlines()[-1]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get(REVIEWS).status_code == 200
    token = ApiToken.objects.get(user=reviewer)
    assert key not in (token.token_prefix, token.token_hash)
    assert key.startswith(f"wr_{token.token_prefix}_")


def test_an_unknown_user_is_refused():
    with pytest.raises(CommandError, match=USER_UNKNOWN.format(name="nobody")):
        call_command("create_api_token", "nobody")

    assert ApiToken.objects.count() == 0


def test_a_user_with_a_token_keeps_it_and_gets_no_second(capsys):
    reviewer = UserFactory(reviewer=True)
    key = api_token_key(reviewer)

    with pytest.raises(CommandError) as refused:
        call_command("create_api_token", reviewer.username)

    assert str(refused.value) == API_TOKEN_EXISTS.format(user=reviewer)
    assert key not in capsys.readouterr().out
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get(REVIEWS).status_code == 200
