"""The warmup vocabulary: statuses, platforms, failure categories and outcomes.

The lowest floor of the domain: the models, the retry policy and the status machine all
speak these words, and this module imports nothing of them.
"""

from django.db import models


class Platform(models.TextChoices):
    INSTAGRAM = "instagram", "Instagram"
    TIKTOK = "tiktok", "TikTok"
    X = "x", "X"
    FACEBOOK = "facebook", "Facebook"
    YOUTUBE = "youtube", "YouTube"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    SUSPENDED = "suspended", "Suspended"


class PhaseStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AVAILABLE = "available", "Available"
    CONTENT_ASSIGNED = "content_assigned", "Content assigned"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    REVIEW_REQUIRED = "review_required", "Review required"


# An account has at most one phase in one of these at a time (enforced by the database).
ACTIVE_STATUSES = (
    PhaseStatus.AVAILABLE,
    PhaseStatus.CONTENT_ASSIGNED,
    PhaseStatus.IN_PROGRESS,
    PhaseStatus.REVIEW_REQUIRED,
)


class FailureCategory(models.TextChoices):
    LOGIN_FAILED = "login_failed", "Login failed"
    CHALLENGE_REQUIRED = "challenge_required", "Challenge required"
    RATE_LIMITED = "rate_limited", "Rate limited"
    ACTION_BLOCKED = "action_blocked", "Action blocked"
    ACCOUNT_SUSPENDED = "account_suspended", "Account suspended"
    CONTENT_REJECTED = "content_rejected", "Content rejected"
    PROXY_ERROR = "proxy_error", "Proxy error"
    NETWORK_ERROR = "network_error", "Network error"
    LEASE_EXPIRED = "lease_expired", "Lease expired"
    BOT_ERROR = "bot_error", "Bot error"
    UNKNOWN = "unknown", "Unknown"


class CompletionMethod(models.TextChoices):
    BOT = "bot", "By a bot"
    MANUAL = "manual", "By hand"
    SKIPPED = "skipped", "Skipped"


class AttemptOutcome(models.TextChoices):
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    LEASE_EXPIRED = "lease_expired", "Lease expired"
    # A reviewer put the phase on hold while a bot held it; the bot's lease became stale.
    INTERRUPTED = "interrupted", "Interrupted by review"


class FailureDecision(models.TextChoices):
    RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
    REVIEW_REQUIRED = "review_required", "Review required"
