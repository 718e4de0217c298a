"""Bots and their API tokens. A token is shown once; only its prefix and SHA-256 hash are kept
(warmup.domain.tokens, the rule reviewers' tokens follow too).
Deactivating a bot also ends the leases it holds, through the scheduler's lease-expiry path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import structlog
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from warmup.domain.actors import SYSTEM, Actor
from warmup.domain.errors import (
    BOT_DEACTIVATED_LEASE_ENDED,
    BOT_NAME_REQUIRED,
    BOT_NAME_TAKEN,
    BOT_NOT_FOUND,
    InvalidInput,
    NotFound,
)
from warmup.domain.tokens import token_hash, token_new, token_prefix, token_shape
from warmup.models import Bot, PhaseStatus, WarmupPhase
from warmup.services.bot_work import FailureOutcome, leases_expire
from warmup.services.tokens import token_find

TOKEN_SCHEME = "wb"
TOKEN_SHAPES = (token_shape(TOKEN_SCHEME),)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
# How long an active bot's token is trusted without a query (`bot_authenticate`). Rotating or
# deactivating through these services forgets it at once in the shared cache (every process,
# with REDIS_URL); a change made otherwise shows within this time, and a claim checks that
# the bot is active in its own statement whatever the cache says.
TOKEN_CACHE_SECONDS = 10

log = structlog.get_logger("warmup.bots")


@dataclass(frozen=True)
class Deactivation:
    """A deactivated bot, and what became of each lease it held (retry or review)."""

    bot: Bot
    leases_ended: list[FailureOutcome]


@transaction.atomic
def bot_create(*, name: str, simulated: bool = False) -> tuple[Bot, str]:
    """Create a bot; returns it with its token in plaintext (the only time it exists).
    `simulated` marks a bot of simulate_bots, the only kind whose token it may rotate."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(BOT_NAME_REQUIRED, field="name")
    token = token_new(TOKEN_SCHEME)
    try:
        with transaction.atomic():
            bot = Bot.objects.create(
                name=name, token_prefix=token.prefix, token_hash=token.hash, is_simulated=simulated
            )
    except IntegrityError:
        raise InvalidInput(BOT_NAME_TAKEN.format(name=name), field="name") from None
    return bot, token.plaintext


def _get_bot(name: str) -> Bot:
    try:
        return Bot.objects.select_for_update().get(name=name)
    except Bot.DoesNotExist:
        raise NotFound(BOT_NOT_FOUND.format(name=name)) from None


@transaction.atomic
def bot_rotate_token(*, name: str) -> tuple[Bot, str]:
    """Give the bot a new token; the old one stops working at once."""
    bot = _get_bot(name)
    token = token_new(TOKEN_SCHEME)
    _forget_token(bot.token_hash)
    bot.token_prefix, bot.token_hash = token.prefix, token.hash
    bot.save(update_fields=["token_prefix", "token_hash"])
    return bot, token.plaintext


@transaction.atomic
def bot_deactivate(*, name: str, actor: Actor = SYSTEM) -> Deactivation:
    """Refuse the bot's requests from now on (its token is kept for the record), and end the
    leases it holds at once, as if they had expired: a bot that can no longer report must not
    keep an account waiting until its lease runs out. Each phase is retried or escalated by
    the policy for `lease_expired`, in this transaction; `actor` is who deactivated it."""
    bot = _get_bot(name)
    _forget_token(bot.token_hash)
    if bot.is_active:
        bot.is_active = False
        bot.save(update_fields=["is_active"])
    ended = _end_leases(bot, actor=actor, now=timezone.now())
    transaction.on_commit(
        partial(log.info, "bot_deactivated", bot=bot.name, actor=str(actor), leases=len(ended))
    )
    return Deactivation(bot=bot, leases_ended=ended)


def _end_leases(bot: Bot, *, actor: Actor, now: datetime) -> list[FailureOutcome]:
    """End every lease `bot` holds, locking its phases in id order (waiting for a report in
    flight, not skipping it). Caller holds the transaction."""
    held = (
        WarmupPhase.objects.filter(bot=bot, status=PhaseStatus.IN_PROGRESS)
        .select_for_update(of=("self",))
        .select_related("template", "account", "bot")
        .order_by("pk")
    )
    reason = BOT_DEACTIVATED_LEASE_ENDED.format(bot=bot.name)
    return leases_expire(list(held), now=now, reason=reason, actor=actor)


def _token_key(token_hash: str) -> str:
    return f"bot-token:{token_hash}"


def _forget_token(token_hash: str) -> None:
    """Stop trusting a token without a query: now, and again once the caller's transaction
    commits (a request in between may have remembered the bot as it still was)."""
    cache.delete(_token_key(token_hash))
    transaction.on_commit(partial(cache.delete, _token_key(token_hash)))


def bot_token_cache_key(token: str) -> str | None:
    """The cache key under which `bot_authenticate` remembers this token's bot; None for a
    token of no issued shape (never looked up)."""
    if not token_prefix(token, TOKEN_SHAPES):
        return None
    return _token_key(token_hash(token))


def bot_authenticate(token: str, *, remembered: dict | None = None) -> Bot | None:
    """The bot this token belongs to (active or not), or None: `token_find`, by prefix and
    hash in constant time, no query for a token not of the issued shape. An active bot found
    is remembered for TOKEN_CACHE_SECONDS, so a bot's requests in a row cost no lookup each.
    `remembered`: the token's cache entry read already with other keys
    ({bot_token_cache_key(token): bot}, or {} when it was not there), not read again."""
    digest = token_hash(token or "")
    if token_prefix(token, TOKEN_SHAPES):
        key = _token_key(digest)
        if found := (cache.get(key) if remembered is None else remembered.get(key)):
            return found
    bot = token_find(Bot.objects, token, TOKEN_SHAPES)
    if bot is not None and bot.is_active:
        cache.set(_token_key(digest), bot, TOKEN_CACHE_SECONDS)
    return bot


def bot_touch(bot: Bot) -> None:
    """Record that the bot was seen, at most one write a minute per bot (the remembered bot
    carries the time written, so the next requests skip the write too)."""
    now = timezone.now()
    if bot.last_seen_at is not None and now - bot.last_seen_at < LAST_SEEN_RESOLUTION:
        return
    Bot.objects.filter(pk=bot.pk).update(last_seen_at=now)
    bot.last_seen_at = now
    if bot.is_active:
        cache.set(_token_key(bot.token_hash), bot, TOKEN_CACHE_SECONDS)
