"""API tokens in the database, by the one rule of warmup.domain.tokens: `token_find` finds the
row of a token for bots (warmup.services.bots) and reviewers alike; and reviewers' own tokens
for the review API, one per user, shown once when made (the admin's API tokens page)."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet

from reviews.models import ApiToken
from warmup.domain.errors import API_TOKEN_EXISTS, InvalidInput
from warmup.domain.tokens import token_matches, token_new, token_prefix, token_shape

REVIEWER_SCHEME = "wr"
# Keys made before tokens were hashed (Django REST framework's: 40 hex characters) keep working:
# the migration that hashed them kept their first 12 characters as their prefix.
LEGACY_REVIEWER_KEY = re.compile(r"(?P<prefix>[0-9a-f]{12})[0-9a-f]{28}")
REVIEWER_TOKEN_SHAPES = (token_shape(REVIEWER_SCHEME), LEGACY_REVIEWER_KEY)


def token_find(rows: QuerySet, token: str | None, shapes: tuple[re.Pattern, ...]) -> Model | None:
    """The row of `rows` (with `token_prefix` and `token_hash` columns) whose token this is, or
    None: one query by prefix, none for a token of no shape in `shapes`, and the hash compared
    in constant time whether or not a row was found."""
    prefix = token_prefix(token, shapes)
    row = rows.filter(token_prefix=prefix).first() if prefix else None
    return row if token_matches(token, row.token_hash if row else None) else None


def api_token_create(*, user) -> tuple[ApiToken, str]:
    """Make `user`'s review-API token; returns it with its plaintext (the only time it exists).
    A user has one token: revoke it (delete it) to make another."""
    new = token_new(REVIEWER_SCHEME)
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(user=user, token_prefix=new.prefix, token_hash=new.hash)
    except IntegrityError:
        raise InvalidInput(API_TOKEN_EXISTS.format(user=user), field="user") from None
    return token, new.plaintext


def api_token_authenticate(key: str | None) -> ApiToken | None:
    """The token (with its user) this key is, or None; the caller judges the user."""
    return token_find(ApiToken.objects.select_related("user"), key, REVIEWER_TOKEN_SHAPES)
