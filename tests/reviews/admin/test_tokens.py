"""Reviewers make their own review API token in the admin, and only their own."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.clients import REVIEWS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:authtoken_tokenproxy_add")
LIST = reverse("admin:authtoken_tokenproxy_changelist")


def test_a_reviewer_makes_their_own_token_and_it_opens_the_review_api():
    reviewer, other = UserFactory(reviewer=True), UserFactory(reviewer=True)
    client = Client()
    client.force_login(reviewer)

    client.post(ADD, {"user": other.pk, "_save": "Save"})  # naming someone else changes nothing

    token = Token.objects.get()
    assert token.user == reviewer
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get(REVIEWS).status_code == 200


def test_a_reviewer_sees_only_their_own_token_and_cannot_make_a_second(db):
    reviewer, other = UserFactory(reviewer=True), UserFactory(reviewer=True)
    Token.objects.create(user=reviewer)
    theirs = Token.objects.create(user=other)
    client = Client()
    client.force_login(reviewer)

    listing = client.get(LIST).content.decode()

    assert theirs.key not in listing
    assert client.get(ADD).status_code == 403
