import re

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

TOKEN_KEY = re.compile(r"[0-9a-f]{40}")


class UserTokenAuthentication(TokenAuthentication):
    """DRF token auth that refuses keys not of the issued shape before any query, so junk such
    as a NUL byte in the header is a 401, not a database error."""

    def authenticate_credentials(self, key):
        if not TOKEN_KEY.fullmatch(key or ""):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
