"""The review API's permissions: first what the console asks of anyone (an active staff user:
the admin site's own `has_permission`), then the role's permission. A reviewer who is no longer
staff keeps no access through an old token or session: 403 (a deactivated one's token no
longer authenticates: 401)."""

from django.contrib import admin
from rest_framework.permissions import BasePermission

from reviews.permissions import can_manage_accounts, can_resolve_reviews, can_view_reviews


class ConsolePermission(BasePermission):
    """Allowed when the console would let the user in and `allowed(user)` holds."""

    def allowed(self, user) -> bool:
        raise NotImplementedError

    def has_permission(self, request, view):
        return admin.site.has_permission(request) and self.allowed(request.user)


class CanViewReviews(ConsolePermission):
    """Reading the queue needs the view permission on the review queue."""

    def allowed(self, user) -> bool:
        return can_view_reviews(user)


class CanResolveReviews(ConsolePermission):
    """Acting on the queue needs the resolve permission."""

    def allowed(self, user) -> bool:
        return can_resolve_reviews(user)


class CanManageAccounts(ConsolePermission):
    """Pausing and reactivating accounts needs the manage-accounts permission (review leads)."""

    def allowed(self, user) -> bool:
        return can_manage_accounts(user)
