"""The review side: the append-only ReviewLog and the review queue's proxy model.

ReviewLog rows are created only by `warmup.lifecycle.review_log`; the model, its queryset and (on
PostgreSQL) a database trigger all refuse to change or delete one, and each row is chained to
the one before it by a hash (`warmup.lifecycle.chain`), so a change made past all of them shows.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from config.text import step_display
from reviews.permissions import MANAGE_ACCOUNTS_CODENAME, RESOLVE_CODENAME
from warmup.domain.choices import (
    ActorType,
    ReasonCode,
    ResolutionMethod,
    ReviewAction,
)
from warmup.models import FailureCategory, FailureSignature, PhaseStatus, WarmupPhase


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete a ReviewLog row."""


REVIEW_LOG_IS_APPEND_ONLY = "ReviewLog is append-only: rows cannot be changed or deleted."


class AppendOnlyQuerySet(models.QuerySet):
    """No bulk UPDATE or DELETE of an append-only model's rows (its `APPEND_ONLY` says why)."""

    def update(self, **kwargs):
        raise AppendOnlyError(self.model.APPEND_ONLY)

    def delete(self):
        raise AppendOnlyError(self.model.APPEND_ONLY)

    update.queryset_only = True
    delete.queryset_only = True


class AppendOnly(models.Model):
    """A model whose rows are written once: saving an existing row or deleting one raises
    AppendOnlyError with the model's `APPEND_ONLY` (on PostgreSQL a trigger refuses both too)."""

    APPEND_ONLY = "This table is append-only: rows cannot be changed or deleted."

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(self.APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(self.APPEND_ONLY)


class ReviewLog(AppendOnly):
    phase = models.ForeignKey(
        WarmupPhase, on_delete=models.PROTECT, null=True, blank=True, related_name="review_logs"
    )
    account = models.ForeignKey(
        "warmup.Account", on_delete=models.PROTECT, related_name="review_logs"
    )
    action = models.CharField(max_length=30, choices=ReviewAction.choices)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="review_logs",
    )
    actor_bot = models.ForeignKey(
        "warmup.Bot", on_delete=models.PROTECT, null=True, blank=True, related_name="review_logs"
    )
    from_status = models.CharField(max_length=20, choices=PhaseStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=PhaseStatus.choices, blank=True)
    failure_category = models.CharField(max_length=30, choices=FailureCategory.choices, blank=True)
    # The signature that sent the phase to review (the phase's, at the moment of the row).
    signature = models.ForeignKey(
        "warmup.FailureSignature",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    retry_count = models.PositiveIntegerField(default=0)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    resolution_method = models.CharField(
        max_length=10, choices=ResolutionMethod.choices, blank=True
    )
    reason_code = models.CharField(max_length=30, choices=ReasonCode.choices, blank=True)
    note = models.TextField(blank=True)
    time_in_review = models.DurationField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    # The bulk run (`manage.py resolve_reviews`) that wrote the row; `--undo BATCH` finds it.
    batch = models.UUIDField(null=True, blank=True, db_index=True)
    # The tamper-evident chain (see warmup.lifecycle.chain): a SHA-256 over the row's content and
    # the hash of the row before it in its phase's chain (or its account's, for rows without one).
    previous_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)

    APPEND_ONLY = REVIEW_LOG_IS_APPEND_ONLY

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            (RESOLVE_CODENAME, "Can act on the review queue"),
            (MANAGE_ACCOUNTS_CODENAME, "Can pause and reactivate accounts"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(actor_type=ActorType.USER)
                    & Q(actor_user__isnull=False)
                    & Q(actor_bot__isnull=True)
                )
                | (
                    Q(actor_type=ActorType.BOT)
                    & Q(actor_bot__isnull=False)
                    & Q(actor_user__isnull=True)
                )
                | (
                    Q(actor_type=ActorType.SYSTEM)
                    & Q(actor_user__isnull=True)
                    & Q(actor_bot__isnull=True)
                ),
                name="reviewlog_actor_consistent",
            ),
            models.CheckConstraint(
                condition=Q(resolution_method="")
                | (~Q(reason_code="") & Q(time_in_review__isnull=False)),
                name="reviewlog_resolution_has_reason_and_time",
            ),
        ]
        indexes = [
            models.Index(fields=["phase", "created_at"], name="reviewlog_phase_idx"),
            models.Index(fields=["action", "created_at"], name="reviewlog_action_idx"),
            # A phase's rows in the order they were written: its chain's last hash, its last
            # move, the checker's walk.
            models.Index(fields=["phase", "id"], name="reviewlog_chain_idx"),
            # What worked before for one signature (the suggestions), and its items' returns.
            models.Index(
                fields=["signature", "created_at"],
                condition=Q(signature__isnull=False),
                name="reviewlog_signature_idx",
            ),
        ]

    def __str__(self):
        """What happened, who did it, when, and to which step of which account, as a sentence:
        'Held for review by alice on 6 Dec 07:19: Step 1, Set profile bio of instagram:acct'."""
        when = date_format(timezone.localtime(self.created_at), "j M H:i")
        return f"{self.get_action_display()} by {self.actor} on {when}: {self.subject}"

    @property
    def subject(self) -> str:
        """The step and account the row is about (the account alone for an account's row)."""
        if self.phase_id is None:
            return str(self.account)
        step = step_display(self.phase.order, self.phase.template.name)
        return f"{step} of {self.account}"

    @property
    def actor(self):
        """Who acted: the user, the bot, or "system" (str() gives the name to show)."""
        return self.actor_user or self.actor_bot or "system"


class ReviewItem(WarmupPhase):
    """The review queue in the admin and the API: phases seen through the review lens."""

    class Meta:
        proxy = True
        verbose_name = "review item"
        verbose_name_plural = "review queue"

    def __str__(self):
        return f"{self.account} #{self.order} {self.phase_type}"


class Incident(FailureSignature):
    """The incidents page in the admin: failure signatures seen through the review lens (one
    row per signature with items in review; `warmup.selectors.incidents`)."""

    class Meta:
        proxy = True
        verbose_name = "incident"
        verbose_name_plural = "incidents"

    def __str__(self):
        return self.title


# --- Checkpoints of the log ----------------------------------------------------------------

CHECKPOINTS_ARE_APPEND_ONLY = "Review log checkpoints are append-only: rows cannot be changed."


class ReviewLogCheckpoint(AppendOnly):
    """A signed statement of the log up to a row (warmup.domain.checkpoints): its row count and
    the Merkle root over every chain's head, so cutting or rewriting the end of a chain shows.
    Written by the scheduler (warmup.services.checkpoints); append-only like the log."""

    # 1, 2, 3, ... with no gap: a missing number is a deleted checkpoint (ids may skip on a
    # rolled-back insert; numbers are signed and given by the writer).
    number = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField()
    last_row = models.BigIntegerField()
    rows = models.BigIntegerField()
    chains = models.BigIntegerField()
    root = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)

    APPEND_ONLY = CHECKPOINTS_ARE_APPEND_ONLY

    class Meta:
        ordering = ["-number"]

    def __str__(self):
        return f"checkpoint {self.number} ({self.rows} rows, root {self.root[:12]})"


class ReviewLogCheckpointHead(AppendOnly):
    """A chain's head as checkpoint `number` saw it, for the chains whose head moved since the
    checkpoint before (so a chain's head at any checkpoint is its row of the highest number up
    to that one). The checkpoint's signed root covers them: changed, they no longer give it."""

    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=7)
    chain = models.BigIntegerField()
    row = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    APPEND_ONLY = CHECKPOINTS_ARE_APPEND_ONLY

    class Meta:
        indexes = [
            models.Index(fields=["kind", "chain", "-number"], name="checkpointhead_chain_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.chain}: row {self.row} at checkpoint {self.number}"


# --- Archived months of history --------------------------------------------------------------


class ArchivedMonth(models.Model):
    """A month of a history table (config.partitions.HISTORY_TABLES) archived to a file and
    dropped by `manage.py archive_history` (warmup.services.history): its manifest, so the
    checker can start the review log's chains where the archive left them, and
    `restore_history` can check a file against it. Deleted when the month is restored."""

    table = models.CharField(max_length=63)
    month = models.CharField(max_length=7)  # YYYY-MM
    file = models.CharField(max_length=255)  # the archive's file name, as written
    sha256 = models.CharField(max_length=64)
    rows = models.BigIntegerField()
    first_row = models.BigIntegerField(null=True)  # lowest and highest id in the month
    last_row = models.BigIntegerField(null=True)
    archived_at = models.DateTimeField()
    manifest = models.JSONField()  # the manifest file's content, but the chains' heads

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table", "month"], name="archivedmonth_unique"),
        ]

    def __str__(self):
        return f"{self.table} {self.month} ({self.rows} rows, archived)"


class ArchivedChainHead(models.Model):
    """The last row of a review log chain in an archived month (its manifest's `chains`): the
    checker expects the chain's next row to name its hash."""

    archive = models.ForeignKey(ArchivedMonth, on_delete=models.CASCADE, related_name="heads")
    kind = models.CharField(max_length=7)
    chain = models.BigIntegerField()
    row = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["kind", "chain", "row"], name="archivedhead_chain_idx")]

    def __str__(self):
        return f"{self.kind} {self.chain}: row {self.row} (archived)"


# --- The review log counted per hour -----------------------------------------------------------


class ReviewLogHour(models.Model):
    """An hour of the review log (UTC, from its start) whose counts are kept: its rows were
    all written, and counted into ReviewLogCount by the scheduler
    (`warmup.services.review_hours`). The kept hours are one unbroken run; the dashboard reads
    them instead of the rows and counts only the rest of its window from the log."""

    hour = models.DateTimeField(primary_key=True)
    counted_at = models.DateTimeField()

    def __str__(self):
        return f"review log of {self.hour:%Y-%m-%d %H}:00, counted"


class ReviewLogCount(models.Model):
    """How many rows of the review log of one hour count toward a `measure` and a `key`
    (`warmup.selectors.analytics.hourly_counts`, the one definition): items that entered
    review, items resolved, and escalations per plan step, platform and bot."""

    hour = models.ForeignKey(ReviewLogHour, on_delete=models.CASCADE, related_name="counts")
    measure = models.CharField(max_length=16)
    key = models.CharField(max_length=150, blank=True)
    n = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "measure", "key"], name="reviewlogcount_unique"
            ),
        ]

    def __str__(self):
        return f"{self.hour_id:%Y-%m-%d %H}:00 {self.measure} {self.key}: {self.n}"


# --- Reviewers' API tokens -----------------------------------------------------------------


class ApiToken(models.Model):
    """A user's token for the review API (`warmup.services.tokens`), one per user. Like a bot's,
    it is shown once when made; only its prefix (to find the row) and a SHA-256 hash (to check
    it, in constant time) are stored. Revoking it is deleting it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token"
    )
    token_prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self):
        return f"API token of {self.user}"
