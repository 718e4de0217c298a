"""What a database error means to a request or a batch: which errors a retry a moment later
can cure (a dropped connection, a deadlock, a lock or statement timeout: "busy or down"), and
how long to wait before retrying.

The APIs' JSON 503 `database_unavailable`, the admin's 503 "try again" page and
`resolve_reviews`' report of a failed batch all decide with RETRYABLE_DATABASE_ERRORS and
say RETRY_AFTER_SECONDS, so the three never disagree. Side effects: none.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

# OperationalError covers lock_timeout and statement_timeout cancels, deadlocks, serialisation
# failures and a server gone away; InterfaceError a connection Django or the driver already
# closed. IntegrityError, DataError and ProgrammingError are not here: the same request again
# fails the same way.
RETRYABLE_DATABASE_ERRORS = (OperationalError, InterfaceError)

# The Retry-After of every 503 for a database error, in seconds.
RETRY_AFTER_SECONDS = 5


def is_retryable(exc: BaseException) -> bool:
    """True when the same work a moment later will most likely go through."""
    return isinstance(exc, RETRYABLE_DATABASE_ERRORS)


# SQLSTATE lock_not_available: a lock_timeout (or NOWAIT) gave up waiting for a lock.
LOCK_NOT_AVAILABLE = "55P03"


def is_lock_not_available(exc: BaseException) -> bool:
    """True when `exc` is PostgreSQL giving up on a lock after `lock_timeout` (nothing else:
    a statement timeout or a deadlock is another matter)."""
    cause = exc.__cause__ if isinstance(exc, OperationalError) else exc
    return getattr(cause, "sqlstate", None) == LOCK_NOT_AVAILABLE
