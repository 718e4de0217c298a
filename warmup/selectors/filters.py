"""The review queue's filters: one django-filter FilterSet, the only definition of each filter
and of the values it takes. The review API serves it as its query parameters, the admin builds
its list filters from it (`reviews.admin.filters`), and `resolve_reviews` turns its selection
flags into its data; the three select the same items for the same values.

A filter the admin lists has `lookups`: its (value, label) pairs, read from a small table (the
choices, the plan steps, the bots, the escalation thresholds), never with a SELECT DISTINCT over
the phases. Each filter keeps to the phase's own indexed columns (a bot's or a user's name is
read from its small table first, then the phases are filtered by its id).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import django_filters
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from config.text import duration_display
from reviews.models import ReviewItem
from warmup.domain.choices import HELD
from warmup.domain.errors import (
    FILTER_ACCOUNT_INVALID,
    FILTER_SIGNATURE_INVALID,
    FILTER_WAITING_INVALID,
)
from warmup.domain.signatures import KEY_LENGTH
from warmup.models import Account, AccountStatus, Bot, FailureCategory, PhaseTemplate, Platform
from warmup.selectors.incidents import largest_incidents

ME, NOBODY = "me", "none"
MAX_WAITING = timedelta(days=3650)
MAX_AGE_SECONDS = int(MAX_WAITING.total_seconds())
WAITING = re.compile(r"(\d{1,7})([mhd])")
WAITING_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
WAITING_CHOICES = ("1h", "4h", "24h")  # the admin's presets; any duration is taken
MAX_ID = 2**63 - 1

Lookups = Callable[[object], list[tuple[str, str]]]  # (request) -> [(value, label)]


# --- Words -----------------------------------------------------------------------------------


def invalid(message: str, *, code: str) -> ValidationError:
    """A ValidationError saying `message` as it is: passed as a parameter, so a `%` in the
    value it quotes is not read as a placeholder (django-filter formats each message)."""
    return ValidationError("%(message)s", code=code, params={"message": message})


def escalation_label(level: int | str) -> str:
    """'Level 0: under 1 h', 'Level 2: over 4 h' (from the thresholds in settings): the words
    for an escalation level wherever one is shown."""
    level = int(level)
    thresholds = settings.WARMUP_ESCALATION_THRESHOLDS
    if level == 0 and thresholds:
        return f"Level 0: under {duration_display(thresholds[0])}"
    if 1 <= level <= len(thresholds):
        return f"Level {level}: over {duration_display(thresholds[level - 1])}"
    return f"Level {level}"


def escalation_choices(request=None) -> list[tuple[str, str]]:
    """Every escalation level the thresholds give, with its words."""
    levels = len(settings.WARMUP_ESCALATION_THRESHOLDS) + 1
    return [(str(level), escalation_label(level)) for level in range(levels)]


def parse_waiting(value: str) -> timedelta:
    """'90m', '4h', '3d' -> timedelta (ten years at most: longer waits the same); a
    ValidationError for anything else."""
    match = WAITING.fullmatch(value.strip())
    if not match:
        raise invalid(FILTER_WAITING_INVALID.format(value=value), code="invalid")
    return min(timedelta(**{WAITING_UNITS[match.group(2)]: int(match.group(1))}), MAX_WAITING)


# --- Fields: a value in the filter's words, cleaned to what the query needs --------------------


class TextField(forms.CharField):
    """A text value cleaned by `convert` (the base checks length and NUL characters)."""

    def __init__(self, *args, max_length=150, **kwargs):
        super().__init__(*args, max_length=max_length, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        return None if value in self.empty_values else self.convert(value)

    def convert(self, value: str):
        raise NotImplementedError


def _numeric_id(value: str) -> int | None:
    """The legacy alias of a name on the API: an id, as digits."""
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


class WaitingField(TextField):
    def convert(self, value):
        return parse_waiting(value)


# The id of no row: a name nobody has (a bot, a user, an account) matches nothing, as a search
# for it would, through the same equality on the phase's own column.
NO_ROW = -1


class AssigneeField(TextField):
    """`me`, `none`, or a username (a user id is taken too): -> "me", "none" or a user id
    (NO_ROW for a name nobody has)."""

    def convert(self, value):
        if value in (ME, NOBODY):
            return value
        users = get_user_model().objects
        pk = users.filter(username=value).values_list("pk", flat=True).first()
        if pk is None and _numeric_id(value) is not None:
            pk = users.filter(pk=_numeric_id(value)).values_list("pk", flat=True).first()
        return NO_ROW if pk is None else pk


class BotField(TextField):
    """A bot's name (its id is taken too) -> the bot's id (NO_ROW for a name no bot has)."""

    def convert(self, value):
        pk = Bot.objects.filter(name=value).values_list("pk", flat=True).first()
        if pk is None and _numeric_id(value) is not None:
            pk = Bot.objects.filter(pk=_numeric_id(value)).values_list("pk", flat=True).first()
        return NO_ROW if pk is None else pk


SIGNATURE = re.compile(rf"[0-9a-f]{{{KEY_LENGTH}}}")


class SignatureField(TextField):
    """A failure signature's key (warmup.domain.signatures), as the incidents show it."""

    def convert(self, value):
        value = value.strip().lower()
        if not SIGNATURE.fullmatch(value):
            raise invalid(FILTER_SIGNATURE_INVALID.format(value=value), code="invalid")
        return value


class AccountField(TextField):
    """'platform:username' -> the account's id (NO_ROW for an account not enrolled)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, max_length=200, **kwargs)

    def convert(self, value):
        platform, _, username = value.partition(":")
        username = username.strip().lstrip("@")
        if platform not in Platform.values or not username:
            raise invalid(
                FILTER_ACCOUNT_INVALID.format(value=value, platforms=", ".join(Platform.values)),
                code="invalid",
            )
        account = Account.objects.filter(platform=platform, username=username)
        pk = account.values_list("pk", flat=True).first()
        return NO_ROW if pk is None else pk


# --- Filters ---------------------------------------------------------------------------------


class Listed:
    """A filter the admin lists: `lookups(request)` gives its (value, label) pairs; by default
    a choice filter's own choices. `pinned`: the values always offered first, however long the
    list (the admin makes a long list a box to type a name in, beside these)."""

    def __init__(self, *args, lookups: Lookups | None = None, pinned: tuple = (), **kwargs):
        super().__init__(*args, **kwargs)
        self._lookups = lookups
        self.pinned = pinned

    def lookups(self, request) -> list[tuple[str, str]]:
        if self._lookups is not None:
            return self._lookups(request)
        choices = self.extra["choices"]
        return list(choices() if callable(choices) else choices)


class ChoiceFilter(Listed, django_filters.ChoiceFilter):
    pass


class ChoicesField(django_filters.fields.MultipleChoiceField):
    """Several choices; an empty one (`?category=`) is no choice, as with one filter."""

    def to_python(self, value):
        return [one for one in super().to_python(value) if one not in self.empty_values]


class MultipleChoiceFilter(Listed, django_filters.MultipleChoiceFilter):
    field_class = ChoicesField


class NumberFilter(Listed, django_filters.NumberFilter):
    pass


class WaitingFilter(Listed, django_filters.CharFilter):
    field_class = WaitingField


class AssigneeFilter(Listed, django_filters.CharFilter):
    field_class = AssigneeField


class BotFilter(Listed, django_filters.CharFilter):
    field_class = BotField


class AccountFilter(django_filters.CharFilter):
    field_class = AccountField


class SignatureFilter(Listed, django_filters.CharFilter):
    field_class = SignatureField


@extend_schema_field(
    {
        "type": "number",
        "minimum": 0,
        "maximum": MAX_AGE_SECONDS,
        "deprecated": True,
        "description": "Deprecated: `waiting` says the same in minutes, hours or days. "
        "Seconds in review, at least.",
    }
)
class SecondsFilter(django_filters.NumberFilter):
    """`min_age`, the first API's word for `waiting`, in seconds."""


class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class IdsFilter(django_filters.BaseInFilter, IdFilter):
    """Comma-separated phase ids."""


def category_choices() -> list[tuple[str, str]]:
    return [*FailureCategory.choices, (HELD, "Held by a reviewer")]


def phase_type_choices() -> list[tuple[str, str]]:
    """The plan steps' phase types, named by their first step (a handful of rows)."""
    names = {}
    for phase_type, name in PhaseTemplate.objects.order_by("order", "pk").values_list(
        "phase_type", "name"
    ):
        names.setdefault(phase_type, name)
    return list(names.items())


def waiting_choices(request=None) -> list[tuple[str, str]]:
    return [(value, f"Over {duration_display(parse_waiting(value))}") for value in WAITING_CHOICES]


def assignee_choices(request=None) -> list[tuple[str, str]]:
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    usernames = staff.order_by("username").values_list("username", flat=True)
    return [
        (ME, "Assigned to me"),
        (NOBODY, "Unassigned"),
        *((name, f"Assigned to {name}") for name in usernames),
    ]


INCIDENTS_LISTED = 10  # the admin's list filter names the largest; the incidents page has all
# The sidebar's incidents are counted over every item in review (200,000 index entries at ten
# million phases), so one count serves every queue page rendered in the next few seconds.
INCIDENT_CHOICES_SECONDS = 10
INCIDENT_CHOICES_KEY = "queue:incident-choices"


def incident_choices(request=None) -> list[tuple[str, str]]:
    """The largest open incidents (signatures with items in review), with their size: one
    grouped read of the queue's signature index and the titles of the few it finds, kept
    INCIDENT_CHOICES_SECONDS in the cache (the incidents page counts live)."""
    return cache.get_or_set(
        INCIDENT_CHOICES_KEY,
        lambda: [
            (incident.signature, f"{incident.title} ({incident.waiting})")
            for incident in largest_incidents(limit=INCIDENTS_LISTED)
        ],
        INCIDENT_CHOICES_SECONDS,
    )


def bot_choices(request=None) -> list[tuple[str, str]]:
    return [(name, name) for name in Bot.objects.order_by("name").values_list("name", flat=True)]


class ReviewQueueFilter(django_filters.FilterSet):
    """Every filter of the review queue, in the order the admin lists them. Values: `category`
    a failure category or `held` (several: repeat it); `escalation_level` 0, 1, 2...;
    `waiting` in review at least this long (`90m`, `4h`, `3d`); `assignee` `me`, `none` or a
    username; `bot` a bot's name; `account` `platform:username`; `ids` comma-separated."""

    category = MultipleChoiceFilter(
        field_name="last_failure_category",
        method="filter_category",
        choices=category_choices(),
        label="failure category",
        help_text="A failure category, or `held` (held by a reviewer: no failure); "
        "repeat for several.",
    )
    signature = SignatureFilter(
        field_name="review_signature_id",
        label="incident",
        lookups=incident_choices,
        help_text="A failure signature (an incident): the items that failed the same way, "
        "as `GET /api/v1/reviews/incidents/` lists them.",
    )
    escalation_level = NumberFilter(
        field_name="escalation_level",
        min_value=0,
        max_value=100,
        decimal_places=0,
        label="escalation",
        lookups=escalation_choices,
        help_text="The escalation level: 0, 1, 2, ...",
    )
    waiting = WaitingFilter(
        method="filter_waiting",
        label="time in review",
        lookups=waiting_choices,
        help_text="In review at least this long: minutes, hours or days, e.g. `90m`, `4h`, `3d`.",
    )
    assignee = AssigneeFilter(
        method="filter_assignee",
        label="assignee",
        lookups=assignee_choices,
        pinned=(ME, NOBODY),
        help_text="`me` (whoever asks: the API's caller, the admin's reader, the command's "
        "--user), `none` (unassigned) or a username. A user id is taken too, for older clients.",
    )
    phase_type = ChoiceFilter(
        field_name="phase_type",
        choices=phase_type_choices,
        label="phase",
        help_text="A plan step's phase type, e.g. `first_post`.",
    )
    platform = ChoiceFilter(
        field_name="platform",
        choices=Platform.choices,
        label="platform",
        help_text="The account's platform: " + ", ".join(Platform.values) + ".",
    )
    bot = BotFilter(
        field_name="bot_id",
        label="last bot",
        lookups=bot_choices,
        help_text="The bot that last held the phase, by name. Its id is taken too, for older "
        "clients.",
    )
    account_status = ChoiceFilter(
        field_name="account__status",
        choices=AccountStatus.choices,
        label="account status",
        help_text="The account's status: " + ", ".join(AccountStatus.values) + ".",
    )
    account = AccountFilter(
        field_name="account_id", label="account", help_text="One account: `platform:username`."
    )
    ids = IdsFilter(
        field_name="id",
        lookup_expr="in",
        min_value=1,
        max_value=MAX_ID,
        label="ids",
        help_text="Phase ids, comma-separated.",
    )
    min_age = SecondsFilter(
        method="filter_min_age",
        min_value=0,
        max_value=MAX_AGE_SECONDS,
        label="seconds in review",
    )

    class Meta:
        model = ReviewItem
        fields: list[str] = []  # every filter is declared above

    def filter_category(self, queryset, name, value):
        categories = ["" if category == HELD else category for category in value]
        if len(categories) == 1:
            return queryset.filter(last_failure_category=categories[0])
        return queryset.filter(last_failure_category__in=categories)

    def filter_waiting(self, queryset, name, value):
        return queryset.filter(review_required_since__lte=timezone.now() - value)

    def filter_min_age(self, queryset, name, value):
        return self.filter_waiting(queryset, name, timedelta(seconds=float(value)))

    def filter_assignee(self, queryset, name, value):
        if value == NOBODY:
            return queryset.filter(review_assignee__isnull=True)
        if value == ME:
            value = getattr(getattr(self.request, "user", None), "pk", None)
        return queryset.filter(review_assignee_id=value)

    @classmethod
    def listed(cls) -> dict[str, Listed]:
        """The filters the admin lists, by name, in order."""
        return {name: spec for name, spec in cls.base_filters.items() if isinstance(spec, Listed)}
