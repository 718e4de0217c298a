"""The bot API's answer serializer is reused by each server thread: what one answer shows must
never leak into the next."""

from tests.factories import WarmupPhaseFactory
from warmup.api.views import phase_answer


def test_a_reused_answer_shows_the_lease_token_only_to_the_bot_that_holds_it(
    account, bot, other_bot
):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)

    first = phase_answer(phase, bot=bot)
    to_another = phase_answer(phase, bot=other_bot)
    again = phase_answer(phase, bot=bot)

    assert first["lease_token"] == str(phase.lease_token)
    assert to_another["lease_token"] is None
    assert again == first
    assert first["account"]["username"] == account.username
