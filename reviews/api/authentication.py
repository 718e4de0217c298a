"""Reviewer token authentication: `Authorization: Bearer <key>`, as client generators send it
for the schema's bearer scheme; DRF's own `Token <key>` is accepted too."""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from config.api.authentication import header_credential

TOKEN_KEY = re.compile(r"[0-9a-f]{40}")
KEYWORDS = (b"bearer", b"token")


class UserTokenAuthentication(TokenAuthentication):
    """DRF token auth under either keyword, refusing keys not of the issued shape before any
    query, so junk such as a NUL byte in the header is a 401, not a database error."""

    keyword = "Bearer"

    def authenticate(self, request):
        key = header_credential(
            request,
            KEYWORDS,
            malformed="Invalid token header: expected 'Bearer <key>' (or 'Token <key>').",
            undecodable="Invalid token header.",
        )
        return None if key is None else self.authenticate_credentials(key)

    def authenticate_credentials(self, key):
        if not TOKEN_KEY.fullmatch(key or ""):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)


class ReviewerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "reviews.api.authentication.UserTokenAuthentication"
    name = "reviewerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A reviewer's API token, from the admin's Tokens page "
            "(`Authorization: Bearer <key>`; DRF's `Token <key>` is accepted too).",
        }
