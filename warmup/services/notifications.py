"""Notifications about the review queue: escalation digests by email and an optional webhook.

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
