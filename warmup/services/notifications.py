"""Notifications about the review queue: escalation digests and breakers that opened, by
email and an optional webhook.

Called from `transaction.on_commit` in the services, so nothing is sent for a change that
rolled back, and a slow mail server or webhook never holds a row lock. Failures are logged,
never raised: a notification must not break the scheduler.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from reviews.models import ReviewItem
from reviews.permissions import resolvers
from warmup.models import Breaker

logger = logging.getLogger("reviews.notifications")  # the name operators filter on

WEBHOOK_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Escalation:
    phase_id: int
    level: int


def reviewer_emails() -> list[str]:
    """Emails of active users who may act on the review queue."""
    return sorted(set(resolvers().exclude(email="").values_list("email", flat=True)))


def _item_url(phase_id: int) -> str:
    path = reverse("admin:reviews_reviewitem_change", args=[phase_id])
    return settings.WARMUP_BASE_URL.rstrip("/") + path


def _describe(escalations: list[Escalation]) -> list[dict]:
    phases = ReviewItem.objects.select_related("account").in_bulk([e.phase_id for e in escalations])
    rows = []
    for escalation in escalations:
        phase = phases.get(escalation.phase_id)
        if phase is None or phase.review_required_since is None:
            continue  # resolved before the notice went out: nothing to look at any more
        rows.append(
            {
                "phase": phase.pk,
                "account": str(phase.account),
                "phase_type": phase.phase_type,
                "category": phase.last_failure_category,
                "reason": phase.last_failure_reason,
                "level": escalation.level,
                "review_required_since": phase.review_required_since.isoformat(),
                "url": _item_url(phase.pk),
            }
        )
    return rows


def notify_escalations(escalations: list[Escalation]) -> None:
    """One digest email to the reviewers and one webhook POST for the items that rose."""
    if not escalations:
        return
    rows = _describe(escalations)
    if not rows:
        return
    _send_email(rows)
    _post_webhook(rows)


def _send_email(rows: list[dict]) -> None:
    recipients = reviewer_emails()
    if not recipients:
        return
    top = max(row["level"] for row in rows)
    subject = f"[warmup] {len(rows)} review item(s) escalated (up to level {top})"
    lines = [
        f"- level {row['level']}: {row['account']} {row['phase_type']} "
        f"({row['category'] or 'held'}) in review since {row['review_required_since']}\n"
        f"  {row['url']}"
        for row in sorted(rows, key=lambda r: (-r["level"], r["review_required_since"] or ""))
    ]
    body = "These items have waited long enough in review to be escalated:\n\n" + "\n".join(lines)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:
        logger.exception("Could not send the escalation email to %d reviewers", len(recipients))


def _post_webhook(rows: list[dict]) -> None:
    url = settings.WARMUP_ESCALATION_WEBHOOK_URL
    if not url:
        return
    try:
        response = requests.post(
            url, json={"event": "review.escalated", "items": rows}, timeout=WEBHOOK_TIMEOUT_SECONDS
        )
        response.raise_for_status()
    except requests.RequestException:
        logger.exception("Escalation webhook %s failed", url)


# --- Breakers -----------------------------------------------------------------------------


def notify_breaker_opened(breaker_id: int) -> None:
    """One email to the reviewers and one webhook POST (`breaker.opened`) for a breaker that
    opened: what fails, the scope whose claims stopped, and until when."""
    breaker = Breaker.objects.select_related("signature").filter(pk=breaker_id).first()
    if breaker is None or breaker.closed_at is not None:
        return  # closed before the notice went out
    queue = reverse("admin:reviews_reviewitem_changelist")
    row = {
        "breaker": breaker.pk,
        "signature": breaker.signature_id,
        "title": breaker.signature.title,
        "scope": breaker.scope,
        "failures": breaker.failures,
        "attempts": breaker.attempts,
        "opened_at": breaker.opened_at.isoformat(),
        "cooldown_until": breaker.cooldown_until.isoformat(),
        "url": f"{settings.WARMUP_BASE_URL.rstrip('/')}{queue}?signature={breaker.signature_id}",
    }
    _send_breaker_email(row)
    _post(
        {"event": "breaker.opened", "breaker": row},
        failure=f"Breaker webhook %s failed (breaker {breaker.pk})",
    )


def _send_breaker_email(row: dict) -> None:
    recipients = reviewer_emails()
    if not recipients:
        return
    scope = row["scope"]
    where = " ".join(
        part
        for part in (
            f"plan step {scope['phase_type']}",
            f"on {scope['platform']}" if scope["platform"] else "",
            f"by bot {scope['bot']}" if scope["bot"] is not None else "",
        )
        if part
    )
    subject = f"[warmup] breaker open: claims of {where} stopped"
    body = (
        f"{row['title']}\n\n"
        f"{row['failures']} failures of {row['attempts']} attempts in the window, so bots get "
        f"no phase of {where} until {row['cooldown_until']}; then a few trial claims decide "
        f"whether it closes. A review lead may close it by hand.\n\n{row['url']}"
    )
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:
        logger.exception("Could not send the breaker email to %d reviewers", len(recipients))


def _post(payload: dict, *, failure: str) -> None:
    url = settings.WARMUP_ESCALATION_WEBHOOK_URL
    if not url:
        return
    try:
        response = requests.post(url, json=payload, timeout=WEBHOOK_TIMEOUT_SECONDS)
        response.raise_for_status()
    except requests.RequestException:
        logger.exception(failure, url)
