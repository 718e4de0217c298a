"""The review side of the admin: the queue, the log, the accounts' review actions and the
reviewers' own API tokens.
Importing the package registers them (Django's admin autodiscovery imports `reviews.admin`)."""

from reviews.admin import accounts, log, queue, tokens

__all__ = ["accounts", "log", "queue", "tokens"]
