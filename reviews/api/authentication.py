"""Reviewer token authentication: `Authorization: Bearer <key>`, as client generators send it
for the schema's bearer scheme; `Token <key>` is accepted too. A key is found and checked by
the rule bots' tokens follow (warmup.services.tokens): by its prefix, against a stored hash."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.api.authentication import header_credential
from warmup.services.tokens import api_token_authenticate

KEYWORDS = (b"bearer", b"token")
INVALID_TOKEN = "Invalid token."
USER_INACTIVE = "User inactive or deleted."


class UserTokenAuthentication(authentication.BaseAuthentication):
    """A reviewer's API token under either keyword; a key not of an issued shape is refused
    before any query, so junk such as a NUL byte in the header is a 401, not a database error.
    A deactivated user's token no longer authenticates (401)."""

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
        token = api_token_authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(USER_INACTIVE)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class ReviewerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "reviews.api.authentication.UserTokenAuthentication"
    name = "reviewerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A reviewer's API token, from the admin's API tokens page, shown "
            "once when made (`Authorization: Bearer <key>`; `Token <key>` is accepted too).",
        }
