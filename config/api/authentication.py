"""The `Authorization: <keyword> <credential>` header, read one way by both APIs' token
authentications (each then looks its credential up in its own table)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header


def header_credential(
    request, keywords: tuple[bytes, ...], *, malformed: str, undecodable: str | None = None
) -> str | None:
    """The credential of the request's Authorization header when its keyword is one of
    `keywords` (lower case), None without one (another authentication may take it).

    Raises AuthenticationFailed with `malformed` when the header is not two words, and with
    `undecodable` (default: `malformed`) when the credential is not UTF-8."""
    header = get_authorization_header(request).split()
    if not header or header[0].lower() not in keywords:
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed(malformed)
    try:
        return header[1].decode()
    except UnicodeError:
        raise exceptions.AuthenticationFailed(undecodable or malformed) from None
