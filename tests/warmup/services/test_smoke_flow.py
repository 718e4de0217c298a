from tests.builders import reload
from tests.factories import WarmupPhaseFactory
from warmup.models import PhaseStatus
from warmup.services.bot_work import phase_complete


def test_an_account_walks_its_first_phase_to_completion(account, bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_progress=True)

    phase_complete(phase_id=phase.pk, bot=bot, lease_token=phase.lease_token)

    assert reload(phase).status == PhaseStatus.COMPLETED
    second = account.phases.get(order=2)
    assert second.status == PhaseStatus.PENDING
    assert second.available_at is not None


def test_a_challenge_goes_straight_to_review(account, bot):
    phase = WarmupPhaseFactory(account=account, bot=bot, in_review=True)

    assert phase.review_required_since is not None
    assert phase.review_logs.get().action == "escalated"
