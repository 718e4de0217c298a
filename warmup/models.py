"""Warmup domain: accounts, plans, phases, attempts, content and bots.

Nothing here changes a phase's status: `warmup.lifecycle.state.apply_transition_many` is the
only writer of `WarmupPhase.status` (services call it). Integrity rules live in the database as
constraints, so a bug anywhere else cannot store an inconsistent phase.
"""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from config.text import step_display
from reviews.permissions import CLOSE_BREAKER_CODENAME
from warmup.domain.choices import (
    ACTIVE_STATUSES,
    AccountStatus,
    AttemptOutcome,
    BreakerState,
    CompletionMethod,
    FailureCategory,
    FailureDecision,
    PhaseStatus,
    Platform,
    ReasonCode,
)
from warmup.domain.errors import JSON_TOO_BIG, JSON_TOO_DEEP, InvalidInput
from warmup.domain.policy import validate_overrides
from warmup.domain.validation import JSON_MAX_CHARS, JSON_MAX_DEPTH, validate_json_document

# --- JSON written from input ---------------------------------------------------------------


def _json_document(value) -> None:
    """Model validator: validate_json_document's limits, as a ValidationError."""
    try:
        validate_json_document(value)
    except InvalidInput as exc:
        raise ValidationError(exc.message, code="too_complex") from None


class BoundedJSONFormField(forms.JSONField):
    """Django's JSON form field, but text longer than JSON_MAX_CHARS is refused unread and
    JSON nested past what the parser can recurse (thousands of `[`) is a form error, not a
    RecursionError (a 500) while cleaning or redrawing the form."""

    def to_python(self, value):
        if isinstance(value, str) and len(value) > JSON_MAX_CHARS:
            raise ValidationError(JSON_TOO_BIG.format(chars=JSON_MAX_CHARS), code="too_complex")
        try:
            return super().to_python(value)
        except RecursionError:
            raise ValidationError(
                JSON_TOO_DEEP.format(depth=JSON_MAX_DEPTH), code="too_complex"
            ) from None

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)


class BoundedJSONField(models.JSONField):
    """A JSON field a person or a bot writes: within validate_json_document's depth and size
    (a form error in the admin, through full_clean anywhere). Stored and migrated as Django's
    JSONField."""

    default_validators = [_json_document]

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": BoundedJSONFormField, **kwargs})

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs


# --- Plans ---------------------------------------------------------------------------------


class WarmupPlan(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    is_simulation = models.BooleanField(
        "for simulation",
        default=False,
        help_text="Simulated bots (simulate_bots, the demo) may work this plan's phases; "
        "never tick it for a plan of real accounts.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name


# Bounds of a plan step's times. A longer value would overflow a date the moment it is added
# to now (and fail every claim); the admin refuses it, and the services cap what is stored.
MAX_LEASE = timedelta(days=7)
MAX_STEP_DELAY = timedelta(days=365)


class PhaseTemplate(models.Model):
    plan = models.ForeignKey(WarmupPlan, on_delete=models.CASCADE, related_name="templates")
    order = models.PositiveSmallIntegerField()
    phase_type = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    requires_content = models.BooleanField(default=True)
    delay = models.DurationField(
        default=timedelta(0),
        validators=[MinValueValidator(timedelta(0)), MaxValueValidator(MAX_STEP_DELAY)],
        help_text="Wait after the previous phase completes (at most 365 days).",
    )
    lease_duration = models.DurationField(
        default=timedelta(minutes=15),
        validators=[MinValueValidator(timedelta(seconds=1)), MaxValueValidator(MAX_LEASE)],
        help_text="How long a claim holds the phase (at most 7 days).",
    )
    retry_overrides = BoundedJSONField(
        default=dict,
        blank=True,
        help_text='Per-category policy overrides, e.g. {"network_error": {"max_retries": 5}}.',
    )

    class Meta:
        ordering = ["plan", "order"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "order"], name="template_unique_plan_order"),
            models.UniqueConstraint(
                fields=["plan", "phase_type"], name="template_unique_plan_phase_type"
            ),
            models.CheckConstraint(
                condition=Q(lease_duration__gt=timedelta(0)), name="template_lease_positive"
            ),
        ]

    def __str__(self):
        return f"{self.plan.slug} #{self.order} {self.phase_type}"

    def clean(self):
        try:
            validate_overrides(self.retry_overrides)
        except ValueError as exc:
            raise ValidationError({"retry_overrides": str(exc)}) from exc


# --- Accounts, content, bots ---------------------------------------------------------------


class Account(models.Model):
    platform = models.CharField(max_length=20, choices=Platform.choices)
    username = models.CharField(max_length=150)
    # Written only by warmup.services.accounts (suspension and reactivation are logged).
    status = models.CharField(
        max_length=20, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    plan = models.ForeignKey(WarmupPlan, on_delete=models.PROTECT, related_name="accounts")
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["platform", "username"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "username"], name="account_unique_platform_username"
            ),
            models.CheckConstraint(
                condition=Q(platform__in=Platform.values), name="account_platform_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AccountStatus.values), name="account_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.platform}:{self.username}"


class ContentItem(models.Model):
    phase_type = models.SlugField(max_length=50)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    media_url = models.URLField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)
    times_used = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["phase_type", "times_used", "id"]
        indexes = [
            models.Index(
                fields=["phase_type", "times_used", "id"],
                condition=Q(is_active=True),
                name="content_least_used_idx",
            )
        ]

    def __str__(self):
        return f"{self.phase_type}: {self.title}"


class Bot(models.Model):
    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    # Made by simulate_bots, which may give it a new token on a later run; a bot without this
    # mark is never touched by the simulator.
    is_simulated = models.BooleanField("simulated", default=False)
    # The token is shown once at creation; only its prefix (to find the row) and a SHA-256
    # hash (to check it, in constant time) are stored.
    token_prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    # A bot is the authenticated principal of bot API requests (request.user).
    is_authenticated = True
    is_anonymous = False

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


# --- Phases and attempts -------------------------------------------------------------------


class FailureSignature(models.Model):
    """One kind of failure (`warmup.domain.signatures`): the failures that share it are one
    problem, an incident while items of it wait in review. Written once, when first seen."""

    key = models.CharField(primary_key=True, max_length=16)
    title = models.CharField(max_length=200)
    # A FailureCategory, or "held" for a reviewer's hold (its note stands for the reason).
    category = models.CharField(max_length=30)
    phase_type = models.SlugField(max_length=50)
    first_seen_at = models.DateTimeField()

    def __str__(self):
        return self.title


# The queue's filters on the phase's own columns, each with an index of its own (see Meta).
QUEUE_FILTER_COLUMNS = {
    "last_failure_category": "category",
    "review_signature": "signature",
    "phase_type": "type",
    "review_assignee": "assignee",
    "bot": "bot",
    "platform": "platform",
}


# What the incidents page counts of each incident's items (`warmup.selectors.incidents`).
INCIDENT_SPREAD = ["platform", "bot", "template"]


class WarmupPhase(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="phases")
    template = models.ForeignKey(PhaseTemplate, on_delete=models.PROTECT, related_name="phases")
    order = models.PositiveSmallIntegerField()
    phase_type = models.SlugField(max_length=50)
    # The account's platform, copied at enrolment (an account keeps its platform for life), so
    # the review queue filters on it with an index of the phases, not a join to every account.
    platform = models.CharField(max_length=20, choices=Platform.choices, editable=False)
    # Written only by warmup.lifecycle.state.apply_transition_many.
    status = models.CharField(
        max_length=20, choices=PhaseStatus.choices, default=PhaseStatus.PENDING
    )
    content = models.ForeignKey(
        ContentItem, on_delete=models.PROTECT, null=True, blank=True, related_name="phases"
    )
    available_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    # The current lease, while in_progress. `bot` stays set afterwards: the bot that last held
    # the phase (reviewers filter the queue by it); only the token and expiry are cleared.
    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True, unique=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    retry_count = models.PositiveIntegerField(default=0)
    attempt_count = models.PositiveIntegerField(default=0)

    last_failure_category = models.CharField(
        max_length=30, choices=FailureCategory.choices, blank=True
    )
    last_failure_reason = models.TextField(blank=True)
    last_failure_details = BoundedJSONField(default=dict, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # What sent the phase to review the last time (a failure's signature or a hold's): the
    # review queue groups and filters items by it. Kept after the phase leaves review, as the
    # last failure is, so a later return can say whether it failed the same way.
    review_signature = models.ForeignKey(
        FailureSignature, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    review_required_since = models.DateTimeField(null=True, blank=True)
    review_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_reviews",
    )
    escalation_level = models.PositiveSmallIntegerField(default=0)
    # When a reviewer last resolved the phase: the time of its latest resolution that no undo
    # took back (its ReviewLog row has the same created_at). An item in review with one came
    # back (warmup.selectors.returns). Written with the resolution's move; an undo gives back
    # the one before.
    last_resolved_at = models.DateTimeField(null=True, blank=True, editable=False)

    completed_at = models.DateTimeField(null=True, blank=True)
    completion_method = models.CharField(
        max_length=10, choices=CompletionMethod.choices, blank=True
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "order"]
        constraints = [
            models.UniqueConstraint(fields=["account", "order"], name="phase_unique_account_order"),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="phase_one_active_per_account",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PhaseStatus.values), name="phase_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=PhaseStatus.REVIEW_REQUIRED)
                | Q(review_required_since__isnull=False),
                name="phase_review_has_since",
            ),
            models.CheckConstraint(
                condition=Q(status=PhaseStatus.REVIEW_REQUIRED)
                | (
                    Q(review_required_since__isnull=True)
                    & Q(escalation_level=0)
                    & Q(review_assignee__isnull=True)
                ),
                name="phase_review_fields_only_in_review",
            ),
            models.CheckConstraint(
                condition=~Q(status=PhaseStatus.IN_PROGRESS)
                | (
                    Q(bot__isnull=False)
                    & Q(lease_token__isnull=False)
                    & Q(lease_expires_at__isnull=False)
                ),
                name="phase_in_progress_has_lease",
            ),
            models.CheckConstraint(
                condition=Q(status=PhaseStatus.IN_PROGRESS)
                | (Q(lease_token__isnull=True) & Q(lease_expires_at__isnull=True)),
                name="phase_lease_only_in_progress",
            ),
            models.CheckConstraint(
                condition=~Q(status=PhaseStatus.CONTENT_ASSIGNED)
                | Q(next_attempt_at__isnull=False),
                name="phase_content_assigned_has_next_attempt",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=PhaseStatus.COMPLETED)
                    & Q(completed_at__isnull=False)
                    & Q(completion_method__in=CompletionMethod.values)
                )
                | (
                    ~Q(status=PhaseStatus.COMPLETED)
                    & Q(completed_at__isnull=True)
                    & Q(completion_method="")
                ),
                name="phase_completed_has_completion",
            ),
        ]
        indexes = [
            # The review queue: highest escalation level first, then oldest in review. On
            # PostgreSQL it carries the columns the queue's filters test, so a filtered page and
            # its count read the index, not a heap page per item in review.
            models.Index(
                fields=["-escalation_level", "review_required_since", "id"],
                condition=Q(status=PhaseStatus.REVIEW_REQUIRED),
                include=["last_failure_category", "phase_type", "review_assignee", "bot"],
                name="phase_review_queue_idx",
            ),
            # The queue filtered by one of the columns above: that column, then the queue's
            # order. A filter that matches few items (a rare category, one bot) would otherwise
            # walk the whole queue index to fill a page; each of these holds the items in
            # review only, so they cost the fleet's other phases nothing. The signature's
            # carries what the incidents page counts per incident (platform, bot, plan step), so
            # its grouped read of every item in review reads the index alone.
            *(
                models.Index(
                    fields=[column, "-escalation_level", "review_required_since", "id"],
                    condition=Q(status=PhaseStatus.REVIEW_REQUIRED),
                    include=INCIDENT_SPREAD if column == "review_signature" else None,
                    name=f"phase_review_by_{name}_idx",
                )
                for column, name in QUEUE_FILTER_COLUMNS.items()
            ),
            # The items in review that came back, by signature: the incidents page counts them
            # per incident from this index alone (a few per incident, not every item's log).
            models.Index(
                fields=["review_signature"],
                condition=Q(status=PhaseStatus.REVIEW_REQUIRED, last_resolved_at__isnull=False),
                name="phase_review_returned_idx",
            ),
            # The claim query: ready phases by when they may next be attempted. The id makes the
            # index match the query's ORDER BY, so LIMIT 1 reads one entry, not every ready row.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status=PhaseStatus.CONTENT_ASSIGNED),
                name="phase_claim_idx",
            ),
            # Lease expiry sweep: the phases under a lease (about one per working bot), whose
            # expiry it reads from the rows. Not keyed on lease_expires_at: a heartbeat writes
            # that column, and a write to no indexed column is a HOT update (no index entry
            # added, the old version pruned in its page).
            models.Index(
                fields=["id"],
                condition=Q(status=PhaseStatus.IN_PROGRESS),
                name="phase_lease_expiry_idx",
            ),
            # Unlocking due phases.
            models.Index(
                fields=["available_at"],
                condition=Q(status=PhaseStatus.PENDING),
                name="phase_unlock_idx",
            ),
            # Content assignment.
            models.Index(
                fields=["available_at"],
                condition=Q(status=PhaseStatus.AVAILABLE),
                name="phase_assign_idx",
            ),
        ]

    def __str__(self):
        # Shown wherever the admin names a phase (an inline's row, a log row's page): its
        # account and its plan step in words.
        return f"{self.account} \N{MIDDLE DOT} {step_display(self.order, self.template.name)}"

    def save(self, *args, **kwargs):
        # Status changes go through warmup.lifecycle.state; a plain save() of an existing phase
        # must not write the column, so a stale instance cannot overwrite a transition made
        # elsewhere.
        if self.pk is not None and not self._state.adding and "update_fields" not in kwargs:
            fields = [f.name for f in self._meta.concrete_fields if f.name not in ("id", "status")]
            kwargs["update_fields"] = fields
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class PhaseAttempt(models.Model):
    """One claim of a phase by a bot, and how it ended: the failure history reviewers read."""

    phase = models.ForeignKey(WarmupPhase, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField(help_text="1-based attempt number of this phase.")
    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="attempts")
    lease_token = models.UUIDField(unique=True)
    content = models.ForeignKey(ContentItem, on_delete=models.PROTECT, null=True, blank=True)
    claimed_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices, blank=True)
    failure_category = models.CharField(max_length=30, choices=FailureCategory.choices, blank=True)
    reason = models.TextField(blank=True)
    details = BoundedJSONField(default=dict, blank=True)
    retryable = models.BooleanField(null=True, blank=True)
    # The failure's signature (its category, phase type and normalised reason, or the bot's
    # fingerprint); empty for an attempt that did not fail.
    signature = models.ForeignKey(
        FailureSignature, on_delete=models.PROTECT, null=True, blank=True, related_name="attempts"
    )
    result = BoundedJSONField(default=dict, blank=True)
    # What the policy decided, kept so a replayed report gets the same answer.
    decision = models.CharField(max_length=20, choices=FailureDecision.choices, blank=True)
    retry_count_after = models.PositiveIntegerField(null=True, blank=True)
    max_retries = models.PositiveIntegerField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["phase", "number"]
        constraints = [
            models.UniqueConstraint(fields=["phase", "number"], name="attempt_unique_number"),
            models.CheckConstraint(
                condition=(Q(outcome="") & Q(finished_at__isnull=True))
                | (~Q(outcome="") & Q(finished_at__isnull=False)),
                name="attempt_finished_has_outcome",
            ),
            models.CheckConstraint(
                condition=~Q(outcome__in=[AttemptOutcome.FAILED, AttemptOutcome.LEASE_EXPIRED])
                | ~Q(failure_category=""),
                name="attempt_failure_has_category",
            ),
        ]
        indexes = [
            models.Index(fields=["bot", "phase"], name="attempt_bot_phase_idx"),
            models.Index(fields=["failure_category", "finished_at"], name="attempt_category_idx"),
            # An incident's trend and the breaker's window: one signature's failures by time.
            models.Index(
                fields=["signature", "finished_at"],
                condition=Q(signature__isnull=False),
                name="attempt_signature_idx",
            ),
        ]

    def __str__(self):
        return f"attempt {self.number} of {self.phase_id} ({self.outcome or 'running'})"


# --- Breakers ------------------------------------------------------------------------------


class Breaker(models.Model):
    """A circuit breaker over one failure signature (`warmup.services.breaker` opens, trials
    and closes it): while live, claims leave alone the phases of its scope, its plan step, on
    its platform and for its bot when it names them. Open until `cooldown_until`; then half
    open, `trials_left` claims of its scope may go through (the claim takes one each, under
    the row's lock); closed, it is history. The claim's conditions are declared once, in
    `warmup.lifecycle.state` (BREAKER_BLOCKS, BREAKER_TRIAL)."""

    signature = models.ForeignKey(
        FailureSignature, on_delete=models.PROTECT, related_name="breakers"
    )
    # The scope: the plan step, and "" / None for every platform / every bot.
    phase_type = models.SlugField(max_length=50)
    platform = models.CharField(max_length=20, choices=Platform.choices, blank=True)
    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=10, choices=BreakerState.choices, default=BreakerState.OPEN)
    opened_at = models.DateTimeField(help_text="The last opening (a failed trial reopens it).")
    cooldown_until = models.DateTimeField(help_text="When its trial claims may begin.")
    trials_left = models.PositiveSmallIntegerField(default=0)
    openings = models.PositiveSmallIntegerField(default=1)
    # What opened it (the last time): the scope's failures of the signature in the window and
    # the scope's attempts that ended in it.
    failures = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    # The phase its log rows are written on (the failure that opened it): its chain, under its
    # row lock, as every row of a phase.
    phase = models.ForeignKey(WarmupPhase, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    close_reason = models.CharField(max_length=30, choices=ReasonCode.choices, blank=True)
    close_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        permissions = [(CLOSE_BREAKER_CODENAME, "Can close a failure breaker")]
        constraints = [
            models.UniqueConstraint(
                fields=["signature"],
                condition=Q(closed_at__isnull=True),
                name="breaker_one_live_per_signature",
            ),
            models.CheckConstraint(
                condition=Q(state__in=BreakerState.values), name="breaker_state_valid"
            ),
            models.CheckConstraint(
                condition=(Q(state=BreakerState.CLOSED) & Q(closed_at__isnull=False))
                | (~Q(state=BreakerState.CLOSED) & Q(closed_at__isnull=True)),
                name="breaker_closed_has_closed_at",
            ),
        ]
        indexes = [
            # The claim's test (BREAKER_BLOCKS): the live breakers of a plan step. Empty while
            # no breaker is live, so the claim's NOT EXISTS costs next to nothing then.
            models.Index(
                fields=["phase_type"],
                condition=Q(closed_at__isnull=True),
                name="breaker_live_idx",
            ),
        ]

    def __str__(self):
        return f"breaker {self.pk} on {self.signature_id} ({self.state})"

    @property
    def scope(self) -> dict:
        """The scope as shown and logged: plan step, platform and bot (None: all)."""
        return {
            "phase_type": self.phase_type,
            "platform": self.platform or None,
            "bot": self.bot_id,
        }
