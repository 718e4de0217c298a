"""factory-boy factories. A phase in a given status is made through the services (the only
writers of status), so a factory-made phase is always one the system could have produced:
`WarmupPhaseFactory(account=account, bot=bot, in_review=True)`."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model

from reviews.permissions import review_leads_group, reviewers_group
from tests.builders import CONTENT_TYPES, fail, first_phase, reload
from warmup.domain import tokens
from warmup.models import Account, Bot, ContentItem, PhaseStatus, Platform, WarmupPhase, WarmupPlan
from warmup.services.accounts import account_enrol
from warmup.services.bot_work import phase_claim, phase_complete, phase_fail
from warmup.services.tick import tick
from warmup.services.tokens import api_token_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests-123")
    is_staff = True

    class Params:
        reviewer = factory.Trait(
            permissions=factory.PostGeneration(
                lambda user, create, extracted, **kw: user.groups.add(reviewers_group())
            )
        )
        lead = factory.Trait(
            permissions=factory.PostGeneration(
                lambda user, create, extracted, **kw: user.groups.add(review_leads_group())
            )
        )


class BotFactory(factory.django.DjangoModelFactory):
    """A bot whose plaintext token is on `bot.token` (tests only; the model never stores it)."""

    class Meta:
        model = Bot
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"bot-{n}")
    token_prefix = factory.Sequence(lambda n: f"{n:012x}")
    token_hash = factory.LazyAttribute(lambda b: tokens.token_hash(f"wb_{b.token_prefix}_secret"))

    @factory.post_generation
    def token(self, create, extracted, **kwargs):
        self.token = f"wb_{self.token_prefix}_secret"


def api_token_key(user) -> str:
    """A new review-API token of `user`, as its plaintext key (the model keeps only a hash)."""
    return api_token_create(user=user)[1]


class ContentItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentItem

    phase_type = "profile_bio"
    title = factory.Sequence(lambda n: f"Content {n}")
    body = factory.Faker("sentence")


S = PhaseStatus


def default_plan() -> WarmupPlan:
    return WarmupPlan.objects.get(slug="default")


class AccountFactory(factory.django.DjangoModelFactory):
    """An account enrolled on the default plan through the service (phases included)."""

    class Meta:
        model = Account

    platform = factory.Iterator(Platform.values)
    username = factory.Sequence(lambda n: f"account{n}")
    plan = factory.LazyFunction(default_plan)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return account_enrol(
            platform=kwargs["platform"], username=kwargs["username"], plan=kwargs["plan"]
        )


# --- A phase in a status, driven there through the services ----------------------------------
# Each takes the account, the bot that claims and the failure category that sends a phase to
# review. The tick and the claim act on the whole database: the phase claimed is the
# longest-waiting ready one, whichever account it is of.


def _available(account, bot, category, failure) -> WarmupPhase:
    phase = reload(first_phase(account))
    assert phase.status == PhaseStatus.AVAILABLE
    return phase


def _content_assigned(account, bot, category, failure) -> WarmupPhase:
    tick()
    phase = reload(first_phase(account))
    assert phase.status == PhaseStatus.CONTENT_ASSIGNED
    return phase


def _in_progress(account, bot, category, failure) -> WarmupPhase:
    _content_assigned(account, bot, category, failure)
    # First steps only: a later step of an earlier account is never the one claimed.
    phase = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    assert phase is not None and phase.status == PhaseStatus.IN_PROGRESS
    return phase


def _in_review(account, bot, category, failure) -> WarmupPhase:
    phase = _in_progress(account, bot, category, failure)
    outcome = phase_fail(
        phase_id=phase.pk,
        bot=bot,
        lease_token=phase.lease_token,
        category=category,
        details={"step": "login"},
        **failure,
    )
    assert outcome.phase.status == PhaseStatus.REVIEW_REQUIRED
    return phase


def _completed(account, bot, category, failure) -> WarmupPhase:
    phase = _in_progress(account, bot, category, failure)
    return phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)


def _pending(account, bot, category, failure) -> WarmupPhase:
    """The first phase completed: the second waits for its template's delay."""
    _completed(account, bot, category, failure)
    phase = account.phases.get(order=2)
    assert phase.status == PhaseStatus.PENDING
    return phase


DRIVE = {
    PhaseStatus.PENDING: _pending,
    PhaseStatus.AVAILABLE: _available,
    PhaseStatus.CONTENT_ASSIGNED: _content_assigned,
    PhaseStatus.IN_PROGRESS: _in_progress,
    PhaseStatus.REVIEW_REQUIRED: _in_review,
    PhaseStatus.COMPLETED: _completed,
}


# The statuses a phase reaches only through a bot's claim.
CLAIMED = {S.PENDING, S.IN_PROGRESS, S.REVIEW_REQUIRED, S.COMPLETED}


class WarmupPhaseFactory(factory.django.DjangoModelFactory):
    """A phase in a status, driven there through the real services (the only writers of
    status), so it is one the system could have produced, with real attempts and review log.

    `WarmupPhaseFactory()` is a new account's first phase, available. Say the situation with a
    trait: `(content_assigned=True)`, `(in_progress=True)`, `(in_review=True)`,
    `(completed=True)`, `(pending=True)` (the account's second phase, waiting for its delay
    after the first completed), or `status=`. `account=` defaults to a new one; `bot=` is the
    bot that claims (a new one when needed); `category`, `reason` and `retryable` are the
    failure that sends an in-review phase to review (`retryable=False`: the bot says a person
    must look, so any category goes to review). Content is added to any empty pool, so there
    is some to assign.
    """

    class Meta:
        model = WarmupPhase

    account = factory.SubFactory(AccountFactory)
    bot = None
    status = PhaseStatus.AVAILABLE
    category = "challenge_required"
    reason = "Instagram asks for an SMS code"
    retryable = True

    class Params:
        pending = factory.Trait(status=PhaseStatus.PENDING)
        content_assigned = factory.Trait(status=PhaseStatus.CONTENT_ASSIGNED)
        in_progress = factory.Trait(status=PhaseStatus.IN_PROGRESS)
        in_review = factory.Trait(status=PhaseStatus.REVIEW_REQUIRED)
        completed = factory.Trait(status=PhaseStatus.COMPLETED)

    @classmethod
    def _create(cls, model_class, *, account, bot, status, category, reason, retryable, **kwargs):
        for phase_type in CONTENT_TYPES:  # something for the scheduler to assign
            if not ContentItem.objects.filter(phase_type=phase_type, is_active=True).exists():
                ContentItemFactory(phase_type=phase_type)
        if bot is None and status in CLAIMED:
            bot = BotFactory()
        failure = {"reason": reason, "retryable": retryable}
        return reload(DRIVE[status](account, bot, category, failure))


FIRST_STEP = "profile_bio"  # the default plan's first phase type


def new_item_in_review(bot, category="challenge_required") -> WarmupPhase:
    """A new account's first phase sent to review by `category`, whatever it is: the factory's
    in-review phase, failed as not retryable with the reason `fail` gives."""
    return WarmupPhaseFactory(
        in_review=True,
        bot=bot,
        category=category,
        retryable=False,
        reason=f"{category} during {FIRST_STEP}",
    )


def retried_then_escalated(bot, clock) -> WarmupPhase:
    """A new account's first phase that failed once and was retried an hour later (`clock`
    moves on), then went to review: it is in review with a retry count."""
    account = AccountFactory()
    tick()
    phase = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    assert phase.account_id == account.pk
    fail(phase, bot, "network_error")
    clock.shift(timedelta(hours=1))
    tick()
    again = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    assert again.pk == phase.pk
    fail(again, bot, "login_failed", retryable=False)
    return reload(phase)
