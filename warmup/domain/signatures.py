"""Failure signatures: which failures are the same problem.

A signature is the failure's category, the phase type and its reason with everything that
varies from one occurrence to the next replaced by a placeholder, the way Sentry fingerprints
messages: URLs, e-mail addresses, UUIDs, IP addresses, hosts, ports, quoted text, long hex ids
and numbers. "Proxy 10.0.0.7:8080 refused the connection" and "Proxy 10.0.3.9:3128 refused the
connection" are one problem; the same words on another plan step, or under another category,
are another. A bot that knows better sends its own fingerprint, which then stands for the
reason.

Pure functions: no database, no settings. The services store what `signature_of` returns.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

KEY_LENGTH = 16  # hex characters of the digest: 64 bits, far past any fleet's distinct failures
TITLE_LENGTH = 200
FINGERPRINT_LENGTH = 200

# In order: each placeholder, once written, is not matched again by a later pattern.
_PLACEHOLDERS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s\"'<>]+", re.I), "<url>"),
    (re.compile(r"\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b"), "<email>"),
    (
        re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I),
        "<id>",  # an id, as a long hex run is below: a UUID without dashes is one
    ),
    # Quoted user text: "..." or '...' (an apostrophe inside a word, as in "can't", is not one).
    (re.compile(r"\"[^\"\n]*\"|(?<![\w'])'[^'\n]*'(?![\w'])|“[^”\n]*”|‘[^’\n]*’"), "<text>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), "<ip>"),
    # IPv6: hex groups and colons, with "::" or at least four colons (not a time of day).
    (
        re.compile(
            r"(?<![\w:])(?=[0-9a-f:]*::|(?:[0-9a-f]{0,4}:){4})(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}"
            r"(?![\w:])",
            re.I,
        ),
        "<ip>",
    ),
    (re.compile(r"\b(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,}\b", re.I), "<host>"),
    (re.compile(r"(?<=<ip>):\d{1,5}\b|(?<=<host>):\d{1,5}\b"), ":<port>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    # A long run of hex digits with both digits and letters (a request id, a hash); digits
    # alone are a number, whatever their length.
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<id>"),
    (re.compile(r"\d+(?:[.,]\d+)*"), "<n>"),
]
_SPACE = re.compile(r"\s+")


def normalise(reason: str) -> str:
    """`reason` with what varies between occurrences replaced by placeholders and whitespace
    folded; case is kept (the key folds it), so the result reads well as a title."""
    text = reason
    for pattern, placeholder in _PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Signature:
    key: str  # what groups failures: KEY_LENGTH hex characters
    title: str  # what a reviewer reads: "proxy_error on profile_bio: Proxy <ip>:<port> refused"
    category: str
    phase_type: str


def signature_of(
    *, category: str, phase_type: str, reason: str, fingerprint: str | None = None
) -> Signature:
    """The signature of one failure. A bot's `fingerprint` (when not blank) stands for the
    normalised reason; the category and phase type always take part, so failures of another
    category or another plan step never share a signature."""
    normalised = normalise(reason)
    grouped_by = (
        f"fingerprint:{fingerprint.strip()}"
        if fingerprint and fingerprint.strip()
        else (f"reason:{normalised.casefold()}")
    )
    digest = hashlib.sha256("\x1f".join((category, phase_type, grouped_by)).encode()).hexdigest()
    title = f"{category} on {phase_type}: {normalised or '(no reason given)'}"
    if len(title) > TITLE_LENGTH:
        title = title[: TITLE_LENGTH - 1] + "…"
    return Signature(digest[:KEY_LENGTH], title, category, phase_type)
