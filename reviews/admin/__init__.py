"""The review side of the admin: the queue, the log, the accounts' review actions, the
reviewers' own API tokens and the login lockout's attempts.
Importing the package registers them (Django's admin autodiscovery imports `reviews.admin`)."""

from reviews.admin import accounts, incidents, lockout, log, queue, tokens

__all__ = ["accounts", "incidents", "lockout", "log", "queue", "tokens"]
