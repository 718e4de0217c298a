"""factory-boy factories. Phases in a given status are made through the services (the only
writers of status), so a factory-made phase is always one the system could have produced."""

import factory
from django.contrib.auth import get_user_model

from reviews.permissions import reviewers_group
from warmup.models import Account, Bot, ContentItem, Platform, WarmupPlan
from warmup.services.bots import hash_token


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
        from warmup.services.accounts import account_enrol

        return account_enrol(
            platform=kwargs["platform"], username=kwargs["username"], plan=kwargs["plan"]
        )
