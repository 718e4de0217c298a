"""Bot API shapes. Input serializers validate shape only; the services hold the rules."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from warmup.domain.errors import InvalidInput
from warmup.domain.signatures import FINGERPRINT_LENGTH
from warmup.domain.validation import json_texts, lone_surrogate, validate_json_document
from warmup.models import (
    Account,
    ContentItem,
    FailureCategory,
    FailureDecision,
    PhaseStatus,
    Platform,
    WarmupPhase,
)

# --- Input ---------------------------------------------------------------------------------

UNSTORABLE_TEXT = (
    "Text in this object may not contain NUL (\\u0000) characters or unpaired surrogates."
)


def _unstorable(value) -> bool:
    """Whether any key or string inside `value` holds text PostgreSQL's jsonb refuses (NUL, a
    lone surrogate)."""
    return any("\x00" in text or lone_surrogate(text) for text in json_texts(value))


class JSONObjectField(serializers.DictField):
    """A free-form JSON object stored as is, within the limits of every JSON written from input
    (warmup.domain.validation.validate_json_document). Text the database cannot store (NUL, lone
    surrogates) is refused here with a 400 instead of failing in the database with a 500,
    so SQLite and PostgreSQL answer alike."""

    default_error_messages = {"unstorable": UNSTORABLE_TEXT}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if _unstorable(value):
            self.fail("unstorable")
        try:
            return validate_json_document(value, field=self.field_name)
        except InvalidInput as exc:  # too deep or too big to store: 400 validation_error
            raise serializers.ValidationError(exc.message, code="too_complex") from None


class ClaimInput(serializers.Serializer):
    platforms = serializers.ListField(
        child=serializers.ChoiceField(choices=Platform.choices), required=False, max_length=20
    )
    phase_types = serializers.ListField(
        child=serializers.SlugField(max_length=50), required=False, max_length=50
    )
    plans = serializers.ListField(
        child=serializers.SlugField(max_length=50),
        required=False,
        max_length=20,
        help_text="Claim only phases of accounts on these plans (by slug).",
    )


class LeaseInput(serializers.Serializer):
    lease_token = serializers.UUIDField()


class CompleteInput(LeaseInput):
    result = JSONObjectField(required=False, default=dict)


class FailureCategoryField(serializers.ChoiceField):
    """A failure category; an unknown one is answered with the list of valid ones."""

    default_error_messages = {
        "invalid_choice": '"{input}" is not a valid choice. Valid categories are: '
        + ", ".join(FailureCategory.values)
        + "."
    }

    def __init__(self, **kwargs):
        super().__init__(choices=FailureCategory.choices, **kwargs)


class FailInput(LeaseInput):
    category = FailureCategoryField()
    reason = serializers.CharField(max_length=2000, allow_blank=False, trim_whitespace=True)
    details = JSONObjectField(required=False, default=dict)
    retryable = serializers.BooleanField(required=False, default=True)
    fingerprint = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=FINGERPRINT_LENGTH,
        help_text="Optional: your own grouping of this failure. Failures with the same category, "
        "plan step and fingerprint are one incident in the review queue, whatever their reason "
        "says. Without it the reason is grouped with its numbers, hosts, addresses, ids and "
        "quoted text left out.",
    )


# --- Output --------------------------------------------------------------------------------


class AccountRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["id", "platform", "username"]


class BlankAsNullMixin:
    """A read-only field whose "no value" is sent as null, never "" (a client generator can
    tell null from a value; "" beside a format or an enum makes an ambiguous type)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


class OptionalURLField(BlankAsNullMixin, serializers.URLField):
    pass


class OptionalChoiceField(BlankAsNullMixin, serializers.ChoiceField):
    pass


class JSONObjectOutput(serializers.DictField):
    """A free-form JSON object in an answer (typed `object` in the schema)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)


class ContentSerializer(serializers.ModelSerializer):
    media_url = OptionalURLField(help_text="The media to post, or null when there is none.")

    class Meta:
        model = ContentItem
        fields = ["id", "phase_type", "title", "body", "media_url"]
        read_only_fields = fields


class FailureSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=FailureCategory.choices)
    reason = serializers.CharField()
    details = serializers.DictField()
    at = serializers.DateTimeField(help_text="When the failure was reported or recorded.")


# One instance for every row of every page: building a serializer per row (its fields are
# deep-copied from the class each time) cost a queue page a quarter of its time.
_FAILURE = FailureSerializer()


def last_failure(phase: WarmupPhase) -> dict | None:
    """The phase's last failure as the APIs show it, or None if it never failed."""
    if not phase.last_failure_category:
        return None
    return _FAILURE.to_representation(
        {
            "category": phase.last_failure_category,
            "reason": phase.last_failure_reason,
            "details": phase.last_failure_details,
            "at": phase.last_failure_at,
        }
    )


class BotPhaseSerializer(serializers.ModelSerializer):
    """A phase as a bot sees it. The lease token shows only to the bot that holds the lease."""

    account = AccountRefSerializer(read_only=True)
    content = ContentSerializer(read_only=True, allow_null=True)
    attempt = serializers.IntegerField(
        source="attempt_count", read_only=True, help_text="1-based number of this attempt."
    )
    lease_token = serializers.SerializerMethodField()
    last_failure = serializers.SerializerMethodField()

    class Meta:
        model = WarmupPhase
        fields = [
            "id",
            "status",
            "phase_type",
            "order",
            "account",
            "content",
            "attempt",
            "retry_count",
            "lease_token",
            "lease_expires_at",
            "next_attempt_at",
            "completed_at",
            "last_failure",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_lease_token(self, phase) -> str | None:
        bot = self.context.get("bot")
        if phase.lease_token and bot is not None and phase.bot_id == bot.pk:
            return str(phase.lease_token)
        return None

    def get_last_failure(self, phase) -> FailureSerializer(allow_null=True):
        return last_failure(phase)


class HeartbeatSerializer(serializers.Serializer):
    lease_expires_at = serializers.DateTimeField()


class FailureOutcomeSerializer(serializers.Serializer):
    """The answer to a failure report: what the retry policy decided, with its context."""

    phase = serializers.IntegerField(source="phase.pk")
    outcome = serializers.ChoiceField(choices=FailureDecision.choices, source="decision")
    status = serializers.SerializerMethodField()
    retry_count = serializers.IntegerField()
    max_retries = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    review_required_since = serializers.DateTimeField(allow_null=True)
    failure = serializers.SerializerMethodField()
    signature = serializers.CharField(
        allow_null=True,
        help_text="The failure's signature: the failures that share it are one incident.",
    )

    def get_status(self, outcome) -> serializers.ChoiceField(
        choices=[PhaseStatus.CONTENT_ASSIGNED, PhaseStatus.REVIEW_REQUIRED]
    ):
        # The status the decision produced (a replay answers the same even if it moved since).
        if outcome.decision == FailureDecision.RETRY_SCHEDULED:
            return PhaseStatus.CONTENT_ASSIGNED
        return PhaseStatus.REVIEW_REQUIRED

    def get_failure(self, outcome) -> FailureSerializer:
        return FailureSerializer(
            {
                "category": outcome.category,
                "reason": outcome.reason,
                "details": outcome.details,
                "at": outcome.at,
            }
        ).data


class BotAccountPhaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = WarmupPhase
        fields = ["id", "order", "phase_type", "status", "retry_count", "completed_at"]
        read_only_fields = fields


class BotAccountSerializer(serializers.ModelSerializer):
    phases = BotAccountPhaseSerializer(many=True, read_only=True)

    class Meta:
        model = Account
        fields = ["id", "platform", "username", "status", "phases"]
        read_only_fields = fields
