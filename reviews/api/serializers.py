"""Review API shapes. Input serializers check shape; reason codes, notes and transitions are
enforced by warmup.services.review (so the admin and commands get the same rules)."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from reviews.models import ReviewItem, ReviewLog
from warmup.api.serializers import (
    AccountRefSerializer,
    ContentSerializer,
    FailureCategoryField,
    FailureSerializer,
    JSONObjectOutput,
    OptionalChoiceField,
    last_failure,
)
from warmup.domain.choices import ReasonCode, ResolutionMethod
from warmup.models import (
    Account,
    AccountStatus,
    AttemptOutcome,
    CompletionMethod,
    FailureCategory,
    FailureDecision,
    PhaseAttempt,
    PhaseStatus,
)

# --- Input ---------------------------------------------------------------------------------


class ResolveInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=ResolutionMethod.choices)
    reason_code = serializers.ChoiceField(choices=ReasonCode.choices)
    note = serializers.CharField(max_length=5000, trim_whitespace=True)


class AssignInput(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        allow_null=True,
        required=False,
        help_text="A user id, or null to unassign. Default: the caller.",
    )


class NoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000, trim_whitespace=True)


class RecategorizeInput(NoteInput):
    category = FailureCategoryField()


class HoldInput(NoteInput):
    phase = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class StatsQuery(serializers.Serializer):
    since = serializers.DateTimeField(required=False)


# --- Output --------------------------------------------------------------------------------


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class ReviewItemSerializer(serializers.ModelSerializer):
    account = AccountRefSerializer(read_only=True)
    account_status = serializers.ChoiceField(
        choices=AccountStatus.choices, source="account.status", read_only=True
    )
    content = ContentSerializer(read_only=True, allow_null=True)
    failure = serializers.SerializerMethodField()
    bot = serializers.CharField(source="bot.name", read_only=True, allow_null=True, default=None)
    assignee = UserRefSerializer(source="review_assignee", read_only=True, allow_null=True)
    seconds_in_review = serializers.SerializerMethodField()
    completion_method = OptionalChoiceField(choices=CompletionMethod.choices)
    signature = serializers.CharField(
        source="review_signature_id",
        read_only=True,
        allow_null=True,
        help_text="The failure signature that sent the item to review: its incident.",
    )

    class Meta:
        model = ReviewItem
        fields = [
            "id",
            "status",
            "phase_type",
            "order",
            "account",
            "account_status",
            "content",
            "retry_count",
            "attempt_count",
            "failure",
            "bot",
            "review_required_since",
            "seconds_in_review",
            "escalation_level",
            "assignee",
            "completed_at",
            "completion_method",
            "signature",
        ]
        read_only_fields = fields

    def get_failure(self, phase) -> FailureSerializer(allow_null=True):
        return last_failure(phase)

    def get_seconds_in_review(self, phase) -> int | None:
        now = self.context.get("now")
        if phase.review_required_since is None or now is None:
            return None
        return int((now - phase.review_required_since).total_seconds())


class AttemptSerializer(serializers.ModelSerializer):
    bot = serializers.CharField(source="bot.name", read_only=True)
    outcome = OptionalChoiceField(choices=AttemptOutcome.choices)
    failure_category = OptionalChoiceField(choices=FailureCategory.choices)
    decision = OptionalChoiceField(choices=FailureDecision.choices)
    details = JSONObjectOutput()
    result = JSONObjectOutput()

    class Meta:
        model = PhaseAttempt
        fields = [
            "number",
            "bot",
            "claimed_at",
            "finished_at",
            "outcome",
            "failure_category",
            "reason",
            "details",
            "retryable",
            "decision",
            "retry_count_after",
            "next_attempt_at",
            "result",
        ]
        read_only_fields = fields


class ReviewLogSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(read_only=True, help_text="Username, bot name or 'system'.")
    from_status = OptionalChoiceField(choices=PhaseStatus.choices)
    to_status = OptionalChoiceField(choices=PhaseStatus.choices)
    failure_category = OptionalChoiceField(choices=FailureCategory.choices)
    resolution_method = OptionalChoiceField(choices=ResolutionMethod.choices)
    reason_code = OptionalChoiceField(choices=ReasonCode.choices)
    time_in_review = serializers.SerializerMethodField(
        help_text="Seconds the item spent in review, on resolutions; null otherwise."
    )
    data = JSONObjectOutput(help_text="What else the event recorded (its keys vary by action).")

    class Meta:
        model = ReviewLog
        fields = [
            "id",
            "created_at",
            "action",
            "actor_type",
            "actor",
            "from_status",
            "to_status",
            "failure_category",
            "retry_count",
            "escalation_level",
            "resolution_method",
            "reason_code",
            "note",
            "time_in_review",
            "data",
        ]
        read_only_fields = fields

    def get_time_in_review(self, row) -> float | None:
        return None if row.time_in_review is None else row.time_in_review.total_seconds()


class ReviewItemDetailSerializer(ReviewItemSerializer):
    attempts = AttemptSerializer(many=True, read_only=True)
    review_log = ReviewLogSerializer(source="review_logs", many=True, read_only=True)

    class Meta(ReviewItemSerializer.Meta):
        fields = [*ReviewItemSerializer.Meta.fields, "attempts", "review_log"]
        read_only_fields = fields


class QueueDepthSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_category = serializers.DictField(
        child=serializers.IntegerField(),
        help_text='Items by failure category; "none" counts items held without a failure.',
    )
    by_escalation_level = serializers.DictField(child=serializers.IntegerField())


class TimeInReviewSerializer(serializers.Serializer):
    resolved = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    p90_seconds = serializers.FloatField(allow_null=True)


class ResolutionStatsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    success = serializers.IntegerField(allow_null=True)
    failed = serializers.IntegerField(allow_null=True)
    pending = serializers.IntegerField(allow_null=True)
    success_rate = serializers.FloatField(allow_null=True)


class StatsSerializer(serializers.Serializer):
    since = serializers.DateTimeField(allow_null=True)
    queue = QueueDepthSerializer()
    time_in_review = TimeInReviewSerializer()
    resolutions = serializers.DictField(child=ResolutionStatsSerializer())


class AccountStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["id", "platform", "username", "status", "status_changed_at"]
        read_only_fields = fields


# --- Incidents -----------------------------------------------------------------------------


class CountSerializer(serializers.Serializer):
    name = serializers.CharField()
    count = serializers.IntegerField()

    def to_representation(self, instance):
        name, count = instance
        return {"name": name, "count": count}


class IncidentSerializer(serializers.Serializer):
    """One open incident: the items in review that share a failure signature."""

    signature = serializers.CharField(help_text="Filter the queue with `?signature=` to list them.")
    title = serializers.CharField()
    category = serializers.CharField(help_text="A failure category, or `held`.")
    phase_type = serializers.CharField()
    waiting = serializers.IntegerField(help_text="Items of the incident in review now.")
    new_last_hour = serializers.IntegerField(help_text="Of those, how many came in the last hour.")
    first_seen = serializers.DateTimeField(allow_null=True)
    last_seen = serializers.DateTimeField(allow_null=True)
    trend = serializers.ListField(
        child=serializers.IntegerField(), help_text="Failures per hour, the last 24, oldest first."
    )
    platforms = CountSerializer(many=True, help_text="The three platforms with most items.")
    bots = CountSerializer(many=True, help_text="The three bots with most items.")
    steps = CountSerializer(many=True, help_text="The plan steps with most items.")


class BatchSerializer(serializers.Serializer):
    """What a group resolution did: its batch id (`resolve_reviews --undo` takes it), how many
    items it resolved, and how many it left in review by refusal code."""

    batch = serializers.UUIDField()
    resolved = serializers.IntegerField()
    refused = serializers.DictField(child=serializers.IntegerField())
