"""Review API: the queue outside the admin. Views validate shape, call one review service,
and answer with the item as it is after the change."""

from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.errors import PLUMBING_ERRORS, error_responses
from config.api.throttling import LimitFailedAuthentication
from config.replica import read_heavy
from reviews.api.authentication import UserTokenAuthentication
from reviews.api.permissions import CanManageAccounts, CanResolveReviews, CanViewReviews
from reviews.api.serializers import (
    AccountStatusSerializer,
    AssignInput,
    BatchSerializer,
    HoldInput,
    IncidentSerializer,
    NoteInput,
    RecategorizeInput,
    ResolveInput,
    ReviewItemDetailSerializer,
    ReviewItemSerializer,
    StatsQuery,
    StatsSerializer,
)
from reviews.api.throttling import ReviewRateThrottle
from reviews.permissions import can_assign_to_others
from warmup.domain.actors import Actor
from warmup.domain.errors import (
    ACCOUNT_NOT_FOUND,
    INCIDENT_NOT_FOUND,
    PHASE_NOT_FOUND,
    NotFound,
)
from warmup.models import Account
from warmup.selectors import analytics, incidents, queue
from warmup.selectors.filters import ReviewQueueFilter
from warmup.services import resolutions, review
from warmup.services.accounts import account_pause, account_reactivate

ERRORS = {
    400: "validation_error (per-field `errors`), parse_error or invalid_unicode (a lone "
    "surrogate in the body)",
    401: "not_authenticated or authentication_failed",
    403: "permission_denied (needs the review permission; pausing and reactivating accounts "
    "needs the manage-accounts permission)",
    404: "not_found",
    409: "invalid_transition (says `current_status`) or account_not_active",
    429: "throttled (the user exceeded REVIEW_RATE, or this address too many requests without "
    "valid credentials); Retry-After says when to try again",
    **PLUMBING_ERRORS,
}


def _errors(*statuses: int) -> dict:
    return error_responses(ERRORS, *statuses)


READ_ERRORS = (401, 403, 429, 503)
# As in the console: a reviewer takes items and lets them go; a review lead hands them out.
ASSIGN_TO_OTHERS_DENIED = (
    "Only a review lead may assign an item to someone else: leave out `user` to take it "
    "yourself, or send null to unassign it."
)
ACTION_ERRORS = (400, 401, 403, 404, 409, 413, 415, 429, 503)


class ReviewQueuePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_paginated_response_schema(self, schema):
        # OpenAPI 3.1 says "or null" with a type list; DRF's `nullable` is 3.0 only.
        paginated = super().get_paginated_response_schema(schema)
        for link in ("next", "previous"):
            paginated["properties"][link].pop("nullable", None)
            paginated["properties"][link]["type"] = ["string", "null"]
        paginated["required"] = ["count", "next", "previous", "results"]
        return paginated


class ReviewAPIView(LimitFailedAuthentication, APIView):
    authentication_classes = [UserTokenAuthentication, SessionAuthentication]
    permission_classes = [CanResolveReviews]
    throttle_classes = [ReviewRateThrottle]

    @property
    def actor(self) -> Actor:
        return Actor.for_user(self.request.user)

    def validated(self, serializer_class):
        serializer = serializer_class(data=self.request.data, context={"request": self.request})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def item_response(self, phase_id: int):
        phase = queue.review_item_with_history(phase_id=phase_id)
        return Response(ReviewItemSerializer(phase, context={"now": timezone.now()}).data)


class ReviewQueueView(LimitFailedAuthentication, generics.ListAPIView):
    authentication_classes = [UserTokenAuthentication, SessionAuthentication]
    throttle_classes = [ReviewRateThrottle]
    permission_classes = [CanViewReviews]
    serializer_class = ReviewItemSerializer
    pagination_class = ReviewQueuePagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = ReviewQueueFilter

    def get_queryset(self):
        return queue.review_queue(with_step=False)  # the answer shows no plan step

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(
        operation_id="reviews_list",
        tags=["reviews"],
        summary="The review queue: highest escalation first, then oldest in review",
        # 404: a page past the end.
        responses={200: ReviewItemSerializer(many=True), **_errors(400, *READ_ERRORS, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReviewItemView(ReviewAPIView):
    permission_classes = [CanViewReviews]

    @extend_schema(
        operation_id="reviews_retrieve",
        tags=["reviews"],
        summary="One item with its attempt history and review log",
        responses={200: ReviewItemDetailSerializer, **_errors(*READ_ERRORS, 404)},
    )
    def get(self, request, phase_id: int):
        phase = queue.review_item_with_history(phase_id=phase_id)
        if phase is None:
            raise NotFound(PHASE_NOT_FOUND.format(phase_id=phase_id))
        return Response(ReviewItemDetailSerializer(phase, context={"now": timezone.now()}).data)


class ResolveView(ReviewAPIView):
    @extend_schema(
        operation_id="reviews_resolve",
        tags=["reviews"],
        summary="Resolve an item: resume, retry, complete or skip",
        request=ResolveInput,
        responses={200: ReviewItemSerializer, **_errors(*ACTION_ERRORS)},
    )
    def post(self, request, phase_id: int):
        data = self.validated(ResolveInput)
        resolutions.review_resolve(
            phase_id=phase_id,
            method=data["action"],
            reason_code=data["reason_code"],
            note=data["note"],
            actor=self.actor,
        )
        return self.item_response(phase_id)


class AssignView(ReviewAPIView):
    @extend_schema(
        operation_id="reviews_assign",
        tags=["reviews"],
        summary="Assign the item to a user (default: the caller; another user: a review lead's) "
        "or unassign it (null)",
        request=AssignInput,
        responses={200: ReviewItemSerializer, **_errors(*ACTION_ERRORS)},
    )
    def post(self, request, phase_id: int):
        data = self.validated(AssignInput)
        assignee = data["user"] if "user" in data else request.user
        if assignee not in (None, request.user) and not can_assign_to_others(request.user):
            raise exceptions.PermissionDenied(ASSIGN_TO_OTHERS_DENIED)
        review.review_assign(phase_id=phase_id, assignee=assignee, actor=self.actor)
        return self.item_response(phase_id)


class CommentView(ReviewAPIView):
    @extend_schema(
        operation_id="reviews_comment",
        tags=["reviews"],
        summary="Add a note to the item's review log",
        request=NoteInput,
        responses={200: ReviewItemSerializer, **_errors(*ACTION_ERRORS)},
    )
    def post(self, request, phase_id: int):
        data = self.validated(NoteInput)
        review.review_comment(phase_id=phase_id, note=data["note"], actor=self.actor)
        return self.item_response(phase_id)


class RecategorizeView(ReviewAPIView):
    @extend_schema(
        operation_id="reviews_recategorize",
        tags=["reviews"],
        summary="Correct the failure category (analytics use the corrected one)",
        request=RecategorizeInput,
        responses={200: ReviewItemSerializer, **_errors(*ACTION_ERRORS)},
    )
    def post(self, request, phase_id: int):
        data = self.validated(RecategorizeInput)
        review.review_recategorize(
            phase_id=phase_id, category=data["category"], note=data["note"], actor=self.actor
        )
        return self.item_response(phase_id)


class HoldView(ReviewAPIView):
    @extend_schema(
        operation_id="reviews_hold",
        tags=["reviews"],
        summary="Put an active phase on hold for review (a holding bot loses its lease)",
        request=HoldInput,
        responses={200: ReviewItemSerializer, **_errors(*ACTION_ERRORS)},
    )
    def post(self, request):
        data = self.validated(HoldInput)
        review.review_hold(phase_id=data["phase"], note=data["note"], actor=self.actor)
        return self.item_response(data["phase"])


class StatsView(ReviewAPIView):
    permission_classes = [CanViewReviews]

    @extend_schema(
        operation_id="reviews_stats",
        tags=["reviews"],
        summary="Queue depth, time in review, resolutions by method with success rates",
        parameters=[
            OpenApiParameter(
                "since",
                OpenApiTypes.DATETIME,
                description="ISO 8601 date-time; resolutions from then on.",
            )
        ],
        responses={200: StatsSerializer, **_errors(400, *READ_ERRORS)},
    )
    def get(self, request):
        query = StatsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        stats, _ = read_heavy(
            lambda: analytics.review_stats(since=query.validated_data.get("since"))
        )
        return Response(StatsSerializer(stats).data)


INCIDENTS_LISTED = 100


class IncidentListView(ReviewAPIView):
    permission_classes = [CanViewReviews]

    @extend_schema(
        operation_id="reviews_incidents",
        tags=["reviews"],
        summary="The open incidents: items in review grouped by failure signature, largest first",
        description="At most 100, the largest first, then the fastest growing. An incident's "
        "items are the queue filtered with `?signature=`.",
        responses={200: IncidentSerializer(many=True), **_errors(*READ_ERRORS)},
    )
    def get(self, request):
        listed = incidents.open_incidents(limit=INCIDENTS_LISTED)
        return Response(IncidentSerializer(listed, many=True).data)


class IncidentResolveView(ReviewAPIView):
    @extend_schema(
        operation_id="reviews_incident_resolve",
        tags=["reviews"],
        summary="Resolve every item of an incident at once, in batches under one batch id",
        description="Each item is checked as one resolution would check it; those that may not "
        "be resolved so stay in review and are counted by refusal code. `resolve_reviews --undo "
        "BATCH` undoes the whole.",
        request=ResolveInput,
        responses={200: BatchSerializer, **_errors(*ACTION_ERRORS)},
    )
    def post(self, request, signature: str):
        data = self.validated(ResolveInput)
        one = incidents.incident(signature)
        if one is None:
            raise NotFound(INCIDENT_NOT_FOUND.format(signature=signature))
        selection = queue.review_selection({"signature": signature}, user=request.user)
        result = resolutions.reviews_resolve_in_batches(
            phase_ids=list(selection.qs.values_list("pk", flat=True)),
            method=data["action"],
            reason_code=data["reason_code"],
            note=data["note"],
            actor=self.actor,
        )
        refused = {}
        for error in result.unchanged.values():
            code = str(error.refusal or error.code)
            refused[code] = refused.get(code, 0) + 1
        return Response(
            BatchSerializer(
                {"batch": result.batch, "resolved": len(result.changed), "refused": refused}
            ).data
        )


class AccountStatusView(ReviewAPIView):
    """Base for account-level review events (pause, reactivate); `service` is set per URL."""

    permission_classes = [CanManageAccounts]
    service = None

    def change_status(self, account_id: int):
        data = self.validated(NoteInput)
        account = Account.objects.filter(pk=account_id).first()
        if account is None:
            raise NotFound(ACCOUNT_NOT_FOUND.format(account_id=account_id))
        account = type(self).service(account=account, actor=self.actor, note=data["note"])
        return Response(AccountStatusSerializer(account).data)


class AccountReactivateView(AccountStatusView):
    service = staticmethod(account_reactivate)

    @extend_schema(
        operation_id="reviews_account_reactivate",
        tags=["reviews"],
        summary="Reactivate a suspended or paused account; its phases can be claimed again",
        request=NoteInput,
        responses={200: AccountStatusSerializer, **_errors(*ACTION_ERRORS)},
    )
    def post(self, request, account_id: int):
        return self.change_status(account_id)


class AccountPauseView(AccountStatusView):
    service = staticmethod(account_pause)

    @extend_schema(
        operation_id="reviews_account_pause",
        tags=["reviews"],
        summary="Pause an account: none of its phases is claimed until it is reactivated",
        request=NoteInput,
        responses={200: AccountStatusSerializer, **_errors(*ACTION_ERRORS)},
    )
    def post(self, request, account_id: int):
        return self.change_status(account_id)
