"""The admin login lockout (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one
username from one address, that username is refused from that address, even with the right
password, with a page that says why, until the cool-off has passed."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from config.text import duration_display
from config.views import LOGIN_LOCKED_OUT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
PASSWORD = "the-right-password-42"


@pytest.fixture
def alice(db):
    user = UserFactory(username="alice", reviewer=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(username: str, password: str, address: str = "127.0.0.1"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": username, "password": password})
    return client, response


def logged_in(client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def lock_out(username: str, address: str = "127.0.0.1"):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _, response = log_in(username, "wrong", address)
    return response


def locked_out_message(username: str) -> str:
    return LOGIN_LOCKED_OUT.format(
        username=username, cooloff=duration_display(settings.AXES_COOLOFF_TIME)
    )


def test_wrong_passwords_up_to_the_limit_then_even_the_right_one_is_refused_with_a_message(
    alice,
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _, response = log_in("alice", "wrong")
        assert response.status_code == 200  # the login form again, with Django's error

    _, last_wrong = log_in("alice", "wrong")
    client, right = log_in("alice", PASSWORD)

    for response in (last_wrong, right):
        assert response.status_code == 429
        assert locked_out_message("alice") in response.content.decode()
        assert 'id="login-locked-out"' in response.content.decode()
    assert not logged_in(client)


def test_another_user_is_not_locked_out(alice):
    bob = UserFactory(username="bob", reviewer=True)
    bob.set_password(PASSWORD)
    bob.save()
    lock_out("alice")

    client, _ = log_in("bob", PASSWORD)

    assert logged_in(client)


def test_trying_a_username_from_elsewhere_does_not_lock_its_owner_out(alice):
    lock_out("alice", address="203.0.113.66")

    client, _ = log_in("alice", PASSWORD, address="127.0.0.1")

    assert logged_in(client)


def test_after_the_cool_off_the_right_password_works_again(alice, clock):
    lock_out("alice")
    clock.shift(settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    _, still = log_in("alice", PASSWORD)
    assert still.status_code == 429

    # Each try restarts the wait: a full cool-off from the last one.
    clock.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
    client, _ = log_in("alice", PASSWORD)

    assert logged_in(client)


def test_a_successful_login_starts_the_count_again(alice):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("alice", "wrong")
    log_in("alice", PASSWORD)

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("alice", "wrong")
    client, _ = log_in("alice", PASSWORD)

    assert logged_in(client)
