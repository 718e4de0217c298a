"""The review permissions, named once: the admin, the review API, the notifications and the
reviewers' group all take them from here."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q, QuerySet

APP_LABEL = "reviews"
RESOLVE_CODENAME = "resolve_review"  # act on the queue: resolve, assign, hold, pause, ...
VIEW_CODENAME = "view_reviewitem"  # read the queue

RESOLVE_PERMISSION = f"{APP_LABEL}.{RESOLVE_CODENAME}"
VIEW_PERMISSION = f"{APP_LABEL}.{VIEW_CODENAME}"

# What a reviewer holds: read the queue and the log, and act on the queue.
REVIEWER_CODENAMES = (RESOLVE_CODENAME, VIEW_CODENAME, "view_reviewlog")
REVIEWERS_GROUP = "Reviewers"


def can_view_reviews(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(VIEW_PERMISSION))


def can_resolve_reviews(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(RESOLVE_PERMISSION))


def reviewer_permissions() -> QuerySet[Permission]:
    return Permission.objects.filter(
        content_type__app_label=APP_LABEL, codename__in=REVIEWER_CODENAMES
    )


def reviewers_group() -> Group:
    """The "Reviewers" group with the reviewer permissions (created on first use)."""
    group, _ = Group.objects.get_or_create(name=REVIEWERS_GROUP)
    group.permissions.add(*reviewer_permissions())
    return group


def resolvers() -> QuerySet:
    """Active users who may act on the review queue (superusers included)."""
    permission = Permission.objects.filter(
        content_type__app_label=APP_LABEL, codename=RESOLVE_CODENAME
    ).first()
    who = Q(is_superuser=True)
    if permission is not None:
        who |= Q(user_permissions=permission) | Q(groups__permissions=permission)
    return get_user_model().objects.filter(who, is_active=True).distinct()
