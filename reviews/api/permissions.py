from rest_framework.permissions import BasePermission

from reviews.permissions import can_manage_accounts, can_resolve_reviews, can_view_reviews


class CanViewReviews(BasePermission):
    """Reading the queue needs the view permission on the review queue."""

    def has_permission(self, request, view):
        return can_view_reviews(request.user)


class CanResolveReviews(BasePermission):
    """Acting on the queue needs the resolve permission."""

    def has_permission(self, request, view):
        return can_resolve_reviews(request.user)


class CanManageAccounts(BasePermission):
    """Pausing and reactivating accounts needs the manage-accounts permission (review leads)."""

    def has_permission(self, request, view):
        return can_manage_accounts(request.user)
