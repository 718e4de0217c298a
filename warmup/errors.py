"""The domain error hierarchy. Each error has a stable `code`; the API, the admin and the
commands turn them into JSON, messages and skipped-item reports respectively."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    http_status = 400

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.context = context


class InvalidTransition(DomainError):
    code = "invalid_transition"
    http_status = 409

    def __init__(self, message: str, *, current_status: str, target_status: str = "", **context):
        super().__init__(
            message, current_status=current_status, target_status=target_status, **context
        )
        self.current_status = current_status
        self.target_status = target_status


class LeaseLost(DomainError):
    code = "lease_lost"
    http_status = 409


class NotClaimable(DomainError):
    code = "account_not_active"
    http_status = 409


class InvalidInput(DomainError):
    code = "validation_error"
    http_status = 400

    def __init__(self, message: str, *, field: str = "", **context):
        super().__init__(message, field=field, **context)
        self.field = field


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


# Messages that tests and callers can import.
TRANSITION_NOT_ALLOWED = "A phase in status {current!r} cannot move to {target!r}."
TRANSITION_RACED = "The phase changed while you acted: it is now {current!r}."
LEASE_STALE = "This lease is no longer valid: the phase was expired, resolved or claimed again."
LEASE_EXPIRED = "This lease expired at {expires_at}; the phase will be retried."
NOTE_REQUIRED = "A note is required."
REASON_CODE_REQUIRED = "A reason code is required; valid codes are: {codes}."
UNKNOWN_CATEGORY = "Unknown failure category {value!r}; valid categories are: {choices}."
ACCOUNT_NOT_ACTIVE = "Account {account} is {status}; reactivate it before resuming its phases."
ACCOUNT_ALREADY_ACTIVE = "Account {account} is already active."
