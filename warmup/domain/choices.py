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


# --- The review side ----------------------------------------------------------------------


class ReviewAction(models.TextChoices):
    ESCALATED = "escalated", "Escalated to review"
    HELD = "held", "Held for review"
    ASSIGNED = "assigned", "Assigned"
    UNASSIGNED = "unassigned", "Unassigned"
    COMMENTED = "commented", "Commented"
    RECATEGORIZED = "recategorized", "Recategorised"
    RESUMED = "resumed", "Resumed automation"
    RETRIED = "retried", "Retried now"
    COMPLETED = "completed", "Completed by hand"
    SKIPPED = "skipped", "Skipped"
    ESCALATION_RAISED = "escalation_raised", "Escalation level raised"
    ACCOUNT_SUSPENDED = "account_suspended", "Account suspended"
    ACCOUNT_PAUSED = "account_paused", "Account paused"
    ACCOUNT_REACTIVATED = "account_reactivated", "Account reactivated"
    RESOLUTION_UNDONE = "resolution_undone", "Resolution undone"
    # A breaker stopped (or started again) the claims of an incident's scope: an account-level
    # row on an account of its failures (warmup.services.breaker).
    BREAKER_OPENED = "breaker_opened", "Breaker opened"
    BREAKER_CLOSED = "breaker_closed", "Breaker closed"


class BreakerState(models.TextChoices):
    """A breaker over one failure signature (warmup.services.breaker): open, it stops the
    claims of its scope until its cool-down ends; half open, it lets a few trial claims
    through; closed, it is history."""

    OPEN = "open", "Open"
    HALF_OPEN = "half_open", "Half open"
    CLOSED = "closed", "Closed"


# What a reviewer's hold stands in for where a failure's category would be (its signature, the
# queue's category filter): a held item may have no failure at all.
HELD = "held"

# The actions whose row moves a phase into review: a failure escalated, a hold, the undo of a
# bulk resolution (resolve_reviews --undo puts its items back). The analytics count these as
# entering review (and a resume or retry followed by one as one that did not work); the
# integrity check wants one behind every phase in review.
ENTERS_REVIEW = (ReviewAction.ESCALATED, ReviewAction.HELD, ReviewAction.RESOLUTION_UNDONE)


class ResolutionMethod(models.TextChoices):
    RESUME = "resume", "Resume automation"
    RETRY = "retry", "Retry now"
    COMPLETE = "complete", "Mark completed"
    SKIP = "skip", "Skip"


# The resolutions that hand the item back to bots with a fresh retry budget (retry_count 0):
# they worked when a bot then completed the phase without it entering review again. Complete
# and skip are done by hand and have no such outcome.
AUTOMATED_RESOLUTIONS = (ResolutionMethod.RESUME, ResolutionMethod.RETRY)


RESOLUTION_ACTIONS = {
    ResolutionMethod.RESUME: ReviewAction.RESUMED,
    ResolutionMethod.RETRY: ReviewAction.RETRIED,
    ResolutionMethod.COMPLETE: ReviewAction.COMPLETED,
    ResolutionMethod.SKIP: ReviewAction.SKIPPED,
}


class ReasonCode(models.TextChoices):
    FIXED_CREDENTIALS = "fixed_credentials", "Fixed credentials"
    SOLVED_CHALLENGE = "solved_challenge", "Solved challenge"
    REPLACED_PROXY = "replaced_proxy", "Replaced proxy"
    REPLACED_CONTENT = "replaced_content", "Replaced content"
    WAITED_OUT_LIMIT = "waited_out_limit", "Waited out limit"
    FALSE_ALARM = "false_alarm", "False alarm"
    ACCOUNT_LOST = "account_lost", "Account lost"
    OTHER = "other", "Other"


class ActorType(models.TextChoices):
    USER = "user", "User"
    BOT = "bot", "Bot"
    SYSTEM = "system", "System"
