"""Bot API shapes. Input serializers validate shape only; the services hold the rules."""

from rest_framework import serializers

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


class ClaimInput(serializers.Serializer):
    platforms = serializers.ListField(
        child=serializers.ChoiceField(choices=Platform.choices), required=False, max_length=20
    )
    phase_types = serializers.ListField(
        child=serializers.SlugField(max_length=50), required=False, max_length=50
    )


class LeaseInput(serializers.Serializer):
    lease_token = serializers.UUIDField()


class CompleteInput(LeaseInput):
    result = serializers.DictField(required=False, default=dict)


class FailInput(LeaseInput):
    category = serializers.ChoiceField(choices=FailureCategory.choices)
    reason = serializers.CharField(max_length=2000, allow_blank=False, trim_whitespace=True)
    details = serializers.DictField(required=False, default=dict)
    retryable = serializers.BooleanField(required=False, default=True)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # An unknown category lists the valid ones.
            if isinstance(exc.detail, dict) and "category" in exc.detail:
                exc.detail["category"] = [
                    f"{exc.detail['category'][0]} Valid categories are: "
                    f"{', '.join(FailureCategory.values)}."
                ]
            raise


# --- Output --------------------------------------------------------------------------------


class AccountRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["id", "platform", "username"]


class ContentSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContentItem
        fields = ["id", "phase_type", "title", "body", "media_url"]


class FailureSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=FailureCategory.choices)
    reason = serializers.CharField()
    details = serializers.DictField()
    at = serializers.DateTimeField(required=False, allow_null=True)


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

    def get_lease_token(self, phase) -> str | None:
        bot = self.context.get("bot")
        if phase.lease_token and bot is not None and phase.bot_id == bot.pk:
            return str(phase.lease_token)
        return None

    def get_last_failure(self, phase) -> FailureSerializer(allow_null=True):
        if not phase.last_failure_category:
            return None
        return {
            "category": phase.last_failure_category,
            "reason": phase.last_failure_reason,
            "details": phase.last_failure_details,
            "at": serializers.DateTimeField().to_representation(phase.last_failure_at)
            if phase.last_failure_at
            else None,
        }


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

    def get_status(self, outcome) -> serializers.ChoiceField(
        choices=[PhaseStatus.CONTENT_ASSIGNED, PhaseStatus.REVIEW_REQUIRED]
    ):
        # The status the decision produced (a replay answers the same even if it moved since).
        if outcome.decision == FailureDecision.RETRY_SCHEDULED:
            return PhaseStatus.CONTENT_ASSIGNED
        return PhaseStatus.REVIEW_REQUIRED

    def get_failure(self, outcome) -> FailureSerializer:
        return {"category": outcome.category, "reason": outcome.reason, "details": outcome.details}


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
