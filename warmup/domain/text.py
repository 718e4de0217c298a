"""What the review pages say of the domain, written once: what each resolution will do, who may
reactivate an account, and why a failure went to review without its automatic retries. The
item page and the bulk confirmation pages take their words from here (`action_effect`)."""

from __future__ import annotations

from warmup.domain.choices import FailureCategory, ResolutionMethod

# What a resolution will do to an item, said before it is done (the effect of
# warmup.services.resolutions.RESOLUTIONS, in a reviewer's words).
ACTION_EFFECTS = {
    ResolutionMethod.RESUME: (
        "Hands the phase back to the bots: it is available again with a fresh retry budget, "
        "and gets new content before a bot claims it."
    ),
    ResolutionMethod.RETRY: (
        "A bot can claim the phase again at once, with the same content and a fresh retry budget."
    ),
    ResolutionMethod.COMPLETE: (
        "The phase counts as done by hand; the account's next phase follows after its delay."
    ),
    ResolutionMethod.SKIP: (
        "The phase is skipped, nobody does it; the account's next phase follows after its delay."
    ),
}


def action_effect(method: str) -> str:
    """What the resolution `method` (a ResolutionMethod value) will do, in one sentence.
    KeyError for a method that is not one."""
    return ACTION_EFFECTS[method]


# Why a resolution that hands the item to bots waits, said to a reviewer who may not reactivate
# the account (a review lead may: reviews.permissions' manage-accounts role). A lead reads the
# refusal's own words (warmup.domain.errors.REFUSAL_WORDS) beside the reactivation.
REACTIVATE_BY_A_LEAD = "the account is {status}: a review lead can reactivate the account"


# --- Why no automatic retry --------------------------------------------------------------------


def no_retry_words(
    *,
    category: str,
    reported_retryable: bool | None,
    max_retries: int | None,
    category_retryable: bool,
) -> str:
    """Why the failure that sent an item to review was not retried (again) automatically: the
    bot said so, its category allows no retries, or its retries ran out. `max_retries` is the
    policy's when the failure was decided, `category_retryable` whether the category retries."""
    name = _category_name(category)
    if reported_retryable is False:
        return (
            "No automatic retry: the bot marked this failure as not retryable, so it came to "
            "review at once."
        )
    if not category_retryable or not max_retries:
        return (
            f"No automatic retry: {name} allows none; it needs a person, so it came to review "
            "at once."
        )
    times = "time" if max_retries == 1 else "times"
    return (
        f"Retried automatically {max_retries} {times}, as many as {name} allows; it failed "
        "each time."
    )


def _category_name(category: str) -> str:
    try:
        return FailureCategory(category).label.lower()
    except ValueError:
        return category.replace("_", " ") or "this failure"
