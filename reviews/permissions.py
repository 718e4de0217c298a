"""The review permissions and roles, named once: the admin, the review API, the notifications
and the groups all take them from here.

Two roles (groups made by a data migration): Reviewers read accounts, phases, attempts and the
log, act on the queue and make their own API token; Review leads also manage bots, content and
plans, pause and reactivate accounts, and close failure breakers.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q, QuerySet

APP_LABEL = "reviews"
RESOLVE_CODENAME = "resolve_review"  # act on the queue: resolve, assign, hold, comment, ...
VIEW_CODENAME = "view_reviewitem"  # read the queue
MANAGE_ACCOUNTS_CODENAME = "manage_accounts"  # pause and reactivate accounts
CLOSE_BREAKER_CODENAME = "close_breaker"  # close a failure breaker by hand (on warmup.Breaker)

RESOLVE_PERMISSION = f"{APP_LABEL}.{RESOLVE_CODENAME}"
VIEW_PERMISSION = f"{APP_LABEL}.{VIEW_CODENAME}"
MANAGE_ACCOUNTS_PERMISSION = f"{APP_LABEL}.{MANAGE_ACCOUNTS_CODENAME}"
CLOSE_BREAKER_PERMISSION = f"warmup.{CLOSE_BREAKER_CODENAME}"

REVIEWERS_GROUP = "Reviewers"
REVIEW_LEADS_GROUP = "Review leads"

# (app label, codename) of what each role holds.
REVIEWER_PERMISSIONS = (
    (APP_LABEL, RESOLVE_CODENAME),
    (APP_LABEL, VIEW_CODENAME),
    (APP_LABEL, "view_reviewlog"),
    ("warmup", "view_account"),
    ("warmup", "view_warmupphase"),
    ("warmup", "view_phaseattempt"),
    (APP_LABEL, "view_apitoken"),
    (APP_LABEL, "add_apitoken"),
    (APP_LABEL, "delete_apitoken"),
)
REVIEW_LEAD_PERMISSIONS = (
    *REVIEWER_PERMISSIONS,
    (APP_LABEL, MANAGE_ACCOUNTS_CODENAME),
    ("warmup", CLOSE_BREAKER_CODENAME),
    ("warmup", "view_bot"),
    ("warmup", "add_bot"),
    ("warmup", "change_bot"),
    ("warmup", "view_contentitem"),
    ("warmup", "add_contentitem"),
    ("warmup", "change_contentitem"),
    ("warmup", "view_warmupplan"),
    ("warmup", "add_warmupplan"),
    ("warmup", "change_warmupplan"),
    ("warmup", "view_phasetemplate"),
    ("warmup", "add_phasetemplate"),
    ("warmup", "change_phasetemplate"),
    ("warmup", "delete_phasetemplate"),
)
ROLES = {REVIEWERS_GROUP: REVIEWER_PERMISSIONS, REVIEW_LEADS_GROUP: REVIEW_LEAD_PERMISSIONS}


def can_view_reviews(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(VIEW_PERMISSION))


def can_resolve_reviews(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(RESOLVE_PERMISSION))


def can_assign_to_others(user) -> bool:
    """Assign queue items to any reviewer: a review lead's (whom the role lets manage
    accounts); a reviewer assigns items to themself."""
    return can_manage_accounts(user)


def can_manage_accounts(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(MANAGE_ACCOUNTS_PERMISSION))


def can_close_breakers(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(CLOSE_BREAKER_PERMISSION))


def permissions_of(pairs) -> QuerySet[Permission]:
    """The Permission rows named by (app label, codename) pairs."""
    who = Q(pk__in=[])
    for app_label, codename in pairs:
        who |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(who)


def role_group(name: str) -> Group:
    """The group of a role (REVIEWERS_GROUP, REVIEW_LEADS_GROUP) with its permissions. The data
    migration makes both; this keeps them whole where a test database was flushed."""
    group, _ = Group.objects.get_or_create(name=name)
    group.permissions.add(*permissions_of(ROLES[name]))
    return group


def reviewers_group() -> Group:
    return role_group(REVIEWERS_GROUP)


def review_leads_group() -> Group:
    return role_group(REVIEW_LEADS_GROUP)


def resolvers() -> QuerySet:
    """Active users who may act on the review queue (superusers included)."""
    permission = Permission.objects.filter(
        content_type__app_label=APP_LABEL, codename=RESOLVE_CODENAME
    ).first()
    who = Q(is_superuser=True)
    if permission is not None:
        who |= Q(user_permissions=permission) | Q(groups__permissions=permission)
    return get_user_model().objects.filter(who, is_active=True).distinct()
