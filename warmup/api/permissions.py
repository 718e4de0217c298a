from rest_framework.permissions import BasePermission

from warmup.models import Bot


class IsBot(BasePermission):
    """The request was authenticated with a bot token (active bots only get this far)."""

    def has_permission(self, request, view):
        return isinstance(request.user, Bot)
