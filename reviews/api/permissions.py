from rest_framework.permissions import BasePermission

VIEW_PERMISSION = "reviews.view_reviewitem"
RESOLVE_PERMISSION = "reviews.resolve_review"


class CanViewReviews(BasePermission):
    """Reading the queue needs the view permission on the review queue."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(VIEW_PERMISSION))


class CanResolveReviews(BasePermission):
    """Acting on the queue needs `reviews.resolve_review`."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(RESOLVE_PERMISSION))
