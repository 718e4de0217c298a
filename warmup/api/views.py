"""Bot API: claim a ready phase, heartbeat its lease, report completion or failure.

Views validate the request's shape, call one service, and serialize what it returns.
"""

import threading

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.errors import PLUMBING_ERRORS, error_responses
from config.api.negotiation import JSONFirstNegotiation
from config.api.throttling import LimitFailedAuthentication
from warmup.api.authentication import BotTokenAuthentication
from warmup.api.permissions import IsBot
from warmup.api.serializers import (
    BotAccountSerializer,
    BotPhaseSerializer,
    ClaimInput,
    CompleteInput,
    FailInput,
    FailureOutcomeSerializer,
    HeartbeatSerializer,
    LeaseInput,
)
from warmup.api.throttling import BotRateThrottle
from warmup.selectors import bots as bot_reads
from warmup.services.bot_work import phase_claim, phase_complete, phase_fail, phase_heartbeat

ERRORS = {
    400: "validation_error, parse_error or invalid_unicode (a lone surrogate in the body)",
    401: "not_authenticated or authentication_failed (missing or wrong bot token)",
    403: "bot_inactive (the bot is deactivated)",
    404: "not_found (no such phase, or one this bot never held: the same answer)",
    409: "lease_lost (a phase this bot held: its lease is stale, wrong or expired; with "
    "current_status) or invalid_transition",
    429: "throttled (the bot exceeded its request rate, or this address too many requests "
    "without a valid token); Retry-After says when to try again",
    **PLUMBING_ERRORS,
}


def _errors(*statuses: int) -> dict:
    return error_responses(ERRORS, *statuses)


AUTH_ERRORS = (401, 403, 429, 503)
WRITE_ERRORS = (400, *AUTH_ERRORS, 413, 415)


# One answer serializer per server thread, reused: DRF builds a ModelSerializer's fields from
# the model (and its nested serializers' fields) every time one is made, which was over a
# third of a bot request's time. A thread's serializer serves one request at a time, so only
# its context (the bot asking) changes between answers. The input serializers likewise
# (`validated_input`), with only their data changing.
_answers = threading.local()


def phase_answer(phase, *, bot) -> dict:
    """A phase as `bot` sees it (BotPhaseSerializer)."""
    serializer = getattr(_answers, "phase", None)
    if serializer is None:
        serializer = _answers.phase = BotPhaseSerializer()
    serializer._context = {"bot": bot}
    return serializer.to_representation(phase)


def validated_input(serializer_class, data) -> dict:
    """`data` validated by this thread's `serializer_class` (made once per thread, as the
    answer's: DRF copies an input serializer's fields from its class every time one is made);
    raises ValidationError as `is_valid(raise_exception=True)` does."""
    inputs = _answers.__dict__.setdefault("inputs", {})
    serializer = inputs.get(serializer_class)
    if serializer is None:
        serializer = inputs[serializer_class] = serializer_class()
    for state in ("_validated_data", "_errors", "_data"):  # the previous request's
        serializer.__dict__.pop(state, None)
    serializer.initial_data = data
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class BotAPIView(LimitFailedAuthentication, APIView):
    # A bot's Accept header is "*/*" or JSON: no parsing of it per request.
    content_negotiation_class = JSONFirstNegotiation
    authentication_classes = [BotTokenAuthentication]
    permission_classes = [IsBot]
    throttle_classes = [BotRateThrottle]

    @property
    def bot(self):
        return self.request.user

    def validated(self, serializer_class):
        return validated_input(serializer_class, self.request.data)

    def phase_response(self, phase):
        return Response(phase_answer(phase, bot=self.bot))


class ClaimView(BotAPIView):
    @extend_schema(
        operation_id="bot_claim",
        tags=["bot"],
        request=ClaimInput,
        responses={
            200: BotPhaseSerializer,
            204: OpenApiResponse(description="Nothing is ready to claim."),
            **_errors(*WRITE_ERRORS),
        },
        summary="Claim the next ready phase",
    )
    def post(self, request):
        data = self.validated(ClaimInput)
        phase = phase_claim(
            bot=self.bot,
            platforms=data.get("platforms") or None,
            phase_types=data.get("phase_types") or None,
            plans=data.get("plans") or None,
        )
        if phase is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self.phase_response(phase)


class HeartbeatView(BotAPIView):
    @extend_schema(
        operation_id="bot_heartbeat",
        tags=["bot"],
        request=LeaseInput,
        responses={200: HeartbeatSerializer, **_errors(*WRITE_ERRORS, 404, 409)},
        summary="Extend the lease on a claimed phase",
    )
    def post(self, request, phase_id: int):
        data = self.validated(LeaseInput)
        phase = phase_heartbeat(phase_id=phase_id, bot=self.bot, lease_token=data["lease_token"])
        return Response(HeartbeatSerializer(phase).data)


class CompleteView(BotAPIView):
    @extend_schema(
        operation_id="bot_complete",
        tags=["bot"],
        request=CompleteInput,
        responses={200: BotPhaseSerializer, **_errors(*WRITE_ERRORS, 404, 409)},
        summary="Report that the phase succeeded",
    )
    def post(self, request, phase_id: int):
        data = self.validated(CompleteInput)
        phase = phase_complete(
            phase_id=phase_id,
            bot=self.bot,
            lease_token=data["lease_token"],
            result=data.get("result"),
        )
        return self.phase_response(phase)


class FailView(BotAPIView):
    @extend_schema(
        operation_id="bot_fail",
        tags=["bot"],
        request=FailInput,
        responses={200: FailureOutcomeSerializer, **_errors(*WRITE_ERRORS, 404, 409)},
        summary="Report that the phase failed; the answer says what happens next",
    )
    def post(self, request, phase_id: int):
        data = self.validated(FailInput)
        outcome = phase_fail(
            phase_id=phase_id,
            bot=self.bot,
            lease_token=data["lease_token"],
            category=data["category"],
            reason=data["reason"],
            details=data.get("details") or {},
            retryable=data.get("retryable", True),
            fingerprint=data.get("fingerprint") or None,
        )
        return Response(FailureOutcomeSerializer(outcome).data)


class PhaseDetailView(BotAPIView):
    @extend_schema(
        operation_id="bot_phase",
        tags=["bot"],
        responses={200: BotPhaseSerializer, **_errors(*AUTH_ERRORS, 404)},
        summary="A phase this bot has attempted, with its last failure",
    )
    def get(self, request, phase_id: int):
        return self.phase_response(bot_reads.bot_phase_get(bot=self.bot, phase_id=phase_id))


class AccountDetailView(BotAPIView):
    @extend_schema(
        operation_id="bot_account",
        tags=["bot"],
        responses={200: BotAccountSerializer, **_errors(*AUTH_ERRORS, 404)},
        summary="An account this bot has worked on, with each phase's status",
    )
    def get(self, request, account_id: int):
        account = bot_reads.bot_account_get(bot=self.bot, account_id=account_id)
        return Response(BotAccountSerializer(account).data)
