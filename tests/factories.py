"""factory-boy factories. Phases in a given status are made through the services (the only
writers of status), so a factory-made phase is always one the system could have produced."""

import factory
from django.contrib.auth import get_user_model

from reviews.permissions import review_leads_group, reviewers_group
from tests.builders import CONTENT_TYPES, fail, make_phase_in, make_review_required, reload
from warmup.models import Account, Bot, ContentItem, PhaseStatus, Platform, WarmupPhase, WarmupPlan
from warmup.scheduler import tick
from warmup.services.accounts import account_enrol
from warmup.services.bots import hash_token
from warmup.services.phases import phase_claim


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
    token_hash = factory.LazyAttribute(lambda b: hash_token(f"wb_{b.token_prefix}_secret"))

    @factory.post_generation
    def token(self, create, extracted, **kwargs):
        self.token = f"wb_{self.token_prefix}_secret"


class ContentItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentItem

    phase_type = "profile_bio"
    title = factory.Sequence(lambda n: f"Content {n}")
    body = factory.Faker("sentence")


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


class WarmupPhaseFactory(factory.django.DjangoModelFactory):
    """The first phase of a freshly enrolled account, driven to a status through the services.

    `WarmupPhaseFactory()` is available; say the situation with a trait:
    `WarmupPhaseFactory(in_review=True)`, `(in_progress=True, bot=bot)`, `(completed=True)`,
    `(pending=True)` (the second phase, waiting for its delay), `(content_assigned=True)`.
    `category` is the failure that sent an in-review phase to review.
    """

    class Meta:
        model = WarmupPhase

    account = factory.SubFactory(AccountFactory)
    bot = factory.SubFactory(BotFactory)
    status = PhaseStatus.AVAILABLE
    category = "challenge_required"

    class Params:
        pending = factory.Trait(status=PhaseStatus.PENDING)
        content_assigned = factory.Trait(status=PhaseStatus.CONTENT_ASSIGNED)
        in_progress = factory.Trait(status=PhaseStatus.IN_PROGRESS)
        in_review = factory.Trait(status=PhaseStatus.REVIEW_REQUIRED)
        completed = factory.Trait(status=PhaseStatus.COMPLETED)

    @classmethod
    def _create(cls, model_class, *, account, bot, status, category, **kwargs):
        for phase_type in CONTENT_TYPES:  # something for the scheduler to assign
            if not ContentItem.objects.filter(phase_type=phase_type, is_active=True).exists():
                ContentItemFactory(phase_type=phase_type)
        if status == PhaseStatus.REVIEW_REQUIRED:
            return reload(make_review_required(account, bot, category=category))
        return make_phase_in(status, account, bot)


FIRST_STEP = "profile_bio"  # the default plan's first phase type


def new_item_in_review(bot, category="challenge_required") -> WarmupPhase:
    """A new account's first phase, claimed by `bot` and sent to review by its failure (the bot
    says a person must look, so any category goes to review). Claims only first steps, so a
    later step of an earlier account never gets in the way."""
    account = AccountFactory()
    tick()
    phase = phase_claim(bot=bot, phase_types=[FIRST_STEP])
    assert phase is not None and phase.account_id == account.pk
    outcome = fail(phase, bot, category, retryable=False)
    assert outcome.phase.status == PhaseStatus.REVIEW_REQUIRED
    return reload(phase)
