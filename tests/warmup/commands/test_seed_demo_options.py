import pytest
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from tests.warmup.commands.conftest import run
from warmup.models import Account, PhaseStatus, WarmupPhase

pytestmark = pytest.mark.django_db

# Logins go through django-axes (the admin lockout), which needs the request it counts for.


def test_with_admin_prints_a_login_that_works_and_assigns_it_reviews():
    out = run("seed_demo", "--with-admin", "--accounts", "6", "--live", "0")

    password = out.stdout.split("password: ")[1].split()[0]
    assert "Log in at http://127.0.0.1:8000/admin/" in out.stdout
    assert "username: admin" in out.stdout
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    client = Client()
    assert client.login(request=HttpRequest(), username="admin", password=password)
    assert client.get("/admin/").status_code == 200
    assert WarmupPhase.objects.filter(
        status=PhaseStatus.REVIEW_REQUIRED, review_assignee=admin
    ).exists()


def test_demo_admin_password_from_the_environment_and_a_second_run_resets_it(monkeypatch):
    first = run("seed_demo", "--with-admin", "--accounts", "0", "--live", "0")
    old_password = first.stdout.split("password: ")[1].split()[0]
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-pass-1234")

    out = run("seed_demo", "--with-admin", "--accounts", "0", "--live", "0")

    assert "password: demo-pass-1234" in out.stdout
    assert "Reset the password of the superuser 'admin'" in out.stdout
    assert Client().login(request=HttpRequest(), username="admin", password="demo-pass-1234")
    assert not Client().login(request=HttpRequest(), username="admin", password=old_password)


def test_a_small_demo_still_covers_every_status():
    run("seed_demo", "--accounts", "6", "--live", "2")

    assert Account.objects.filter(plan__slug="default").count() == 6
    assert Account.objects.filter(plan__slug="demo-fast").count() == 2
    assert set(WarmupPhase.objects.values_list("status", flat=True)) == set(PhaseStatus.values)


@pytest.mark.parametrize("option", ["--accounts", "--live"])
def test_a_negative_account_count_is_a_usage_error(option):
    with pytest.raises(CommandError, match="--accounts and --live must be 0 or more"):
        run("seed_demo", option, "-1")
    assert not Account.objects.exists()


def test_only_live_accounts_then_a_second_run_adds_nothing():
    run("seed_demo", "--accounts", "0", "--live", "3")

    out = run("seed_demo", "--accounts", "0", "--live", "3")

    assert Account.objects.count() == 3
    assert "demo data already present (3 demo accounts)" in out.stdout


def test_with_admin_also_makes_a_reviewer_and_a_lead_who_can_log_in():
    out = run("seed_demo", "--with-admin", "--accounts", "2", "--live", "0")

    for username, role in (("reviewer", "Reviewers"), ("lead", "Review leads")):
        line = next(line for line in out.stdout.splitlines() if f"  {username} ({role})" in line)
        password = line.rsplit(" ", 1)[-1]
        client = Client()
        assert client.login(request=HttpRequest(), username=username, password=password)
        queue = client.get(reverse("admin:reviews_reviewitem_changelist"))
        assert queue.status_code == 200
