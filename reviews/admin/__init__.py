"""The review side of the admin: the queue, the log, and the accounts' review actions.
Importing the package registers them (Django's admin autodiscovery imports `reviews.admin`)."""

from reviews.admin import accounts, log, queue

__all__ = ["accounts", "log", "queue"]
