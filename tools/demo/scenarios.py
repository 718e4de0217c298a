"""The stories the demo accounts follow, one scripted scenario per account.

Steps act on the account's current phase:
  "ok"                          claim and complete it (after its delay or backoff "passed")
  ("fail", category)            claim it and report the failure
  "expire"                      claim it and let the lease run out (the tick expires it)
  "claim"                       claim it and leave it in progress
  "ready"                       let the scheduler assign its content (claimable now)
  ("age", timedelta)            move the story back so its latest event was that long ago,
                                then raise escalations that are due (once per scenario)
  ("assign", who) ("comment", who, note) ("recategorize", who, category, note)
  ("hold", who, note) ("resolve", who, method, reason_code, note) ("reactivate", who, note)
who: "admin" (the demo superuser, or the first reviewer without --with-admin), "maria", "tom".
"""

from dataclasses import dataclass
from datetime import timedelta

from warmup.models import PhaseStatus

S = PhaseStatus
H, M, D = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)


@dataclass(frozen=True)
class Scenario:
    name: str
    # Where the story leaves the account: the status of its current phase (completed: all
    # done). Accounts of one stage are spread over the platforms.
    stage: str
    steps: tuple = ()
    last: bool = False  # enrolled after every other story, so no tick assigns its content


def story(name: str, stage: str, *steps, last: bool = False) -> Scenario:
    return Scenario(name=name, stage=stage, steps=steps, last=last)


def resolve(who, method, reason_code, note):
    return ("resolve", who, method, reason_code, note)


SCENARIOS = [
    # The first six cover every stage.
    story("warmed_up", S.COMPLETED, "ok", "ok", "ok", "ok", "ok", ("age", 2 * H)),
    story(
        "challenge_waiting",
        S.REVIEW_REQUIRED,
        ("fail", "challenge_required"),
        ("age", 30 * H),
        ("assign", "admin"),
    ),
    story("bot_working", S.IN_PROGRESS, "ok", ("age", 7 * H), "claim"),
    story("between_phases", S.PENDING, "ok", ("age", 2 * H)),
    story("ready_to_claim", S.CONTENT_ASSIGNED, "ready"),
    story("just_enrolled", S.AVAILABLE, last=True),
    # Automatic retries.
    story(
        "network_retrying",
        S.CONTENT_ASSIGNED,
        ("fail", "network_error"),
        ("fail", "network_error"),
    ),
    story(
        "rate_limited_then_done",
        S.PENDING,
        ("fail", "rate_limited"),
        ("fail", "rate_limited"),
        "ok",
        ("age", 3 * H),
    ),
    story("lease_lost_then_done", S.PENDING, "expire", "ok", "ok", ("age", H)),
    story("rate_limited_waiting", S.CONTENT_ASSIGNED, "ok", ("fail", "rate_limited")),
    # Waiting in the review queue, at several ages.
    story(
        "login_failed_waiting",
        S.REVIEW_REQUIRED,
        ("fail", "login_failed"),
        ("age", 5 * H),
        ("assign", "maria"),
    ),
    story(
        "suspended_waiting",
        S.REVIEW_REQUIRED,
        "ok",
        ("fail", "account_suspended"),
        ("age", 50 * M),
    ),
    story("proxy_exhausted", S.REVIEW_REQUIRED, *[("fail", "proxy_error")] * 4, ("age", 2 * H)),
    story(
        "post_rejected_waiting",
        S.REVIEW_REQUIRED,
        "ok",
        "ok",
        "ok",
        ("fail", "content_rejected"),
        ("age", 3 * D),
        ("assign", "admin"),
    ),
    story(
        "lease_expired_repeatedly",
        S.REVIEW_REQUIRED,
        "expire",
        "expire",
        "expire",
        ("age", 12 * M),
    ),
    story(
        "recategorised_waiting",
        S.REVIEW_REQUIRED,
        ("fail", "unknown"),
        ("fail", "unknown"),
        ("age", 40 * M),
        ("assign", "admin"),
        (
            "recategorize",
            "admin",
            "challenge_required",
            "The screenshot shows the 'Confirm it's you' checkpoint; the bot missed it.",
        ),
    ),
    story(
        "held_by_reviewer",
        S.REVIEW_REQUIRED,
        "ready",
        ("hold", "tom", "Owner asked us to pause this account until Monday."),
        ("age", 3 * H),
    ),
    # Resolved history.
    story(
        "resumed_then_done",
        S.PENDING,
        ("fail", "challenge_required"),
        ("age", 3 * H),
        ("assign", "maria"),
        ("comment", "maria", "Asked the phone owner for the SMS code."),
        resolve("maria", "resume", "solved_challenge", "Entered the SMS code by hand."),
        "ok",
    ),
    story(
        "retried_then_done",
        S.PENDING,
        *[("fail", "proxy_error")] * 4,
        ("age", 90 * M),
        resolve("tom", "retry", "replaced_proxy", "Moved it to a residential proxy, same city."),
        "ok",
    ),
    story(
        "completed_by_hand",
        S.PENDING,
        "ok",
        ("fail", "challenge_required"),
        ("age", 6 * H),
        ("assign", "tom"),
        ("comment", "tom", "Challenge solved on the phone; uploading the avatar from there."),
        resolve("tom", "complete", "solved_challenge", "Uploaded the avatar by hand."),
    ),
    story(
        "story_skipped",
        S.COMPLETED,
        "ok",
        "ok",
        "ok",
        "ok",
        ("fail", "content_rejected"),
        ("age", 26 * H),
        resolve("maria", "skip", "other", "Stories are not available in this account's region."),
    ),
    story(
        "resumed_but_failed_again",
        S.REVIEW_REQUIRED,
        ("fail", "login_failed"),
        ("age", 8 * H),
        resolve("tom", "resume", "fixed_credentials", "Reset the password by recovery e-mail."),
        ("fail", "login_failed"),
    ),
    story(
        "suspension_appealed",
        S.PENDING,
        ("fail", "account_suspended"),
        ("age", 2 * D),
        ("reactivate", "maria", "Appeal accepted; the platform restored the account."),
        resolve("maria", "resume", "other", "Account restored after the appeal; resuming."),
        "ok",
    ),
    story(
        "block_waited_out",
        S.PENDING,
        "ok",
        "ok",
        ("fail", "action_blocked"),
        ("age", 20 * H),
        resolve("tom", "retry", "waited_out_limit", "The follow block lifted after a day."),
        "ok",
    ),
    story(
        "false_alarm_retried",
        S.CONTENT_ASSIGNED,
        *[("fail", "bot_error")] * 3,
        ("age", 25 * M),
        resolve("maria", "retry", "false_alarm", "Bug in bot build 1.4.2, fixed in 1.4.3."),
    ),
    story("just_enrolled_too", S.AVAILABLE, last=True),
    # More bots at work, and one more finished account.
    story("retry_claimed", S.IN_PROGRESS, ("fail", "network_error"), "claim"),
    story("posting_now", S.IN_PROGRESS, "ok", "ok", "ok", ("age", 30 * H), "claim"),
    story(
        "warmed_up_after_a_limit",
        S.COMPLETED,
        "ok",
        ("fail", "rate_limited"),
        "ok",
        "ok",
        "ok",
        "ok",
        ("age", 9 * H),
    ),
]
