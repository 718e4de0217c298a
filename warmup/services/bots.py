"""Bots and their API tokens. A token is shown once; only its prefix and SHA-256 hash are kept."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from warmup.errors import BOT_NAME_REQUIRED, BOT_NAME_TAKEN, BOT_NOT_FOUND, InvalidInput, NotFound
from warmup.models import Bot

TOKEN_SCHEME = "wb"
TOKEN_SHAPE = re.compile(r"wb_([0-9a-f]{12})_[A-Za-z0-9_-]{1,128}")
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


# Compared against when no bot has the token's prefix, so a miss costs the same as a hit.
_DUMMY_HASH = hashlib.sha256(b"no such bot").hexdigest()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"


@transaction.atomic
def bot_create(*, name: str) -> tuple[Bot, str]:
    """Create a bot; returns it with its token in plaintext (the only time it exists)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(BOT_NAME_REQUIRED, field="name")
    prefix, token = _new_token()
    try:
        with transaction.atomic():
            bot = Bot.objects.create(name=name, token_prefix=prefix, token_hash=hash_token(token))
    except IntegrityError:
        raise InvalidInput(BOT_NAME_TAKEN.format(name=name), field="name") from None
    return bot, token


def _get_bot(name: str) -> Bot:
    try:
        return Bot.objects.select_for_update().get(name=name)
    except Bot.DoesNotExist:
        raise NotFound(BOT_NOT_FOUND.format(name=name)) from None


@transaction.atomic
def bot_rotate_token(*, name: str) -> tuple[Bot, str]:
    """Give the bot a new token; the old one stops working at once."""
    bot = _get_bot(name)
    prefix, token = _new_token()
    bot.token_prefix = prefix
    bot.token_hash = hash_token(token)
    bot.save(update_fields=["token_prefix", "token_hash"])
    return bot, token


@transaction.atomic
def bot_deactivate(*, name: str) -> Bot:
    """Refuse the bot's requests from now on (its token is kept for the record)."""
    bot = _get_bot(name)
    if bot.is_active:
        bot.is_active = False
        bot.save(update_fields=["is_active"])
    return bot


def bot_authenticate(token: str) -> Bot | None:
    """The bot this token belongs to (active or not), or None. Constant-time comparison.

    A token not of the issued shape is refused before any query (a NUL byte or other junk in a
    header must not reach the database)."""
    match = TOKEN_SHAPE.fullmatch(token or "")
    prefix = match.group(1) if match else ""
    bot = Bot.objects.filter(token_prefix=prefix).first() if prefix else None
    expected = bot.token_hash if bot else _DUMMY_HASH
    if hmac.compare_digest(hash_token(token or ""), expected) and bot is not None:
        return bot
    return None


def bot_touch(bot: Bot) -> None:
    """Record that the bot was seen, at most one write a minute per bot."""
    now = timezone.now()
    if bot.last_seen_at is not None and now - bot.last_seen_at < LAST_SEEN_RESOLUTION:
        return
    Bot.objects.filter(pk=bot.pk).update(last_seen_at=now)
    bot.last_seen_at = now
