"""The roles the data migration makes are the ones the code names."""

import pytest
from django.contrib.auth.models import Group

from reviews.permissions import (
    REVIEW_LEADS_GROUP,
    REVIEWERS_GROUP,
    ROLES,
    can_manage_accounts,
    can_resolve_reviews,
    can_view_reviews,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", sorted(ROLES))
def test_the_migration_made_each_role_with_the_permissions_the_code_names(name):
    group = Group.objects.get(name=name)

    held = set(group.permissions.values_list("content_type__app_label", "codename"))

    assert held == set(ROLES[name])


def test_a_reviewer_acts_on_the_queue_and_a_lead_also_manages_accounts():
    reviewer, lead = UserFactory(), UserFactory()
    reviewer.groups.add(Group.objects.get(name=REVIEWERS_GROUP))
    lead.groups.add(Group.objects.get(name=REVIEW_LEADS_GROUP))

    assert (can_view_reviews(reviewer), can_resolve_reviews(reviewer)) == (True, True)
    assert can_manage_accounts(reviewer) is False
    assert (can_resolve_reviews(lead), can_manage_accounts(lead)) == (True, True)
    assert lead.has_perm("warmup.add_bot") and not reviewer.has_perm("warmup.add_bot")
