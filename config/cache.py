"""The cache (settings.CACHES): Redis shared by every server process when REDIS_URL is set,
else each process's own memory.

What lives there is a help, not a record: the rate limits' counters and the bot-token cache
(warmup.services.bots). So a Redis that refuses connections or stops answering does not fail
the request: for RETRY_REDIS_SECONDS the process counts in its own memory, as it does without
REDIS_URL (a bot may then make BOT_RATE requests per process), with one warning line naming
Redis's address, then one request tries Redis again (the others stay in memory meanwhile); a
line says when it answers again. Socket timeouts bound the wait for a Redis that hangs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from urllib.parse import urlsplit

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

logger = logging.getLogger("config.cache")

# A Redis that does not answer fails a command in seconds, not when TCP gives up.
SOCKET_TIMEOUT_SECONDS = 2
# How long a process counts in its own memory after Redis failed it, before trying again.
RETRY_REDIS_SECONDS = 10
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def caches_for(redis_url: str) -> dict:
    """settings.CACHES for REDIS_URL (empty: each process's memory)."""
    if not redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "config.cache.FallbackRedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "warmup",
            "OPTIONS": {
                "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS,
                "socket_timeout": SOCKET_TIMEOUT_SECONDS,
                # One immediate retry of a dropped connection (a pooled one Redis closed); a
                # command that timed out is not sent again (redis-py's default retries three
                # times with backoff: 8 s and more on a Redis that hangs).
                "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            },
        }
    }


# --- Outages, per process: Django makes a cache object per thread; they share these ---------

_lock = threading.Lock()
_outages: dict[str, float] = {}  # Redis address -> when to try it again (time.monotonic)


FALLBACK_STORE = "redis-fallback"


def forget_outages() -> None:
    """Forget every outage seen and what was counted in memory meanwhile (tests)."""
    with _lock:
        _outages.clear()
    LocMemCache(FALLBACK_STORE, {}).clear()


def _address(location: str) -> str:
    """host:port/db of a Redis URL, without its password."""
    parts = urlsplit(location)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


def _try_redis(address: str) -> bool:
    """Whether to send this command to Redis: yes unless it failed lately; once the wait is
    over, this caller tries it and the others keep to memory until it has."""
    if address not in _outages:
        return True
    with _lock:
        until = _outages.get(address)
        if until is None:
            return True
        now = time.monotonic()
        if now < until:
            return False
        _outages[address] = now + RETRY_REDIS_SECONDS
        return True


def _failed(address: str, error: Exception) -> None:
    with _lock:
        first = address not in _outages
        _outages[address] = time.monotonic() + RETRY_REDIS_SECONDS
    if first:
        logger.warning(
            "Redis at %s is unreachable (%s): rate limits and the bot-token cache count in "
            "this process's memory; Redis is tried again every %d s.",
            address,
            error,
            RETRY_REDIS_SECONDS,
        )


def _answered(address: str) -> None:
    if address not in _outages:
        return
    with _lock:
        was_down = _outages.pop(address, None) is not None
    if was_down:
        logger.warning("Redis at %s answers again; the rate limits count there.", address)


class FallbackRedisCache(RedisCache):
    """Django's Redis cache, falling back to the process's memory while Redis is unreachable."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._address = _address(self._servers[0])
        # One store per process (LocMemCache shares its data by name), with the same keys.
        self._memory = LocMemCache(
            FALLBACK_STORE,
            {key: value for key, value in params.items() if key not in ("OPTIONS", "LOCATION")},
        )

    def count_in_window(self, key: str, timeout: int) -> int:
        """`count_in_window` in one round trip: a Lua script (atomic in Redis) that raises
        the counter and, when it made it, gives it its timeout; in memory while Redis is
        down."""
        if _try_redis(self._address):
            full_key = self.make_and_validate_key(key)
            client = self._cache.get_client(full_key, write=True)
            try:
                try:
                    count = client.evalsha(_COUNT_SHA, 1, full_key, timeout)
                except NoScriptError:  # a Redis that has not seen it yet (or restarted since)
                    count = client.eval(COUNT_SCRIPT, 1, full_key, timeout)
            except UNREACHABLE as error:
                _failed(self._address, error)
                return _count_apart(self._memory, key, timeout)
            _answered(self._address)
            return count
        return _count_apart(self._memory, key, timeout)


# INCR, and EXPIRE on the count's first request: one command, atomic, so the key never lives
# without its timeout.
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_COUNT_SHA = hashlib.sha1(COUNT_SCRIPT.encode()).hexdigest()


def count_in_window(cache, key: str, timeout: int) -> int:
    """Add one to the counter `key`, made at 0 for `timeout` seconds when there is none, and
    return its new value; atomic, so two processes never read the same count. One round
    trip to Redis (a rate limit counts every request)."""
    # `cache` may be Django's proxy of the default cache: ask it, not its class.
    counter = getattr(cache, "count_in_window", None)
    if counter is not None:
        return counter(key, timeout)
    return _count_apart(cache, key, timeout)


def _count_apart(cache, key: str, timeout: int) -> int:
    # add() is a no-op when the key exists; incr() is atomic (INCR in Redis).
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # the key expired between the two calls: a new window
        cache.add(key, 1, timeout=timeout)
        return 1


def _either(name: str):
    redis_method = getattr(RedisCache, name)

    def method(self, *args, **kwargs):
        if _try_redis(self._address):
            try:
                result = redis_method(self, *args, **kwargs)
            except UNREACHABLE as error:
                _failed(self._address, error)
            else:
                _answered(self._address)
                return result
        return getattr(self._memory, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"RedisCache.{name}, or the process's memory while Redis is unreachable."
    return method


for _name in (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "set_many",
    "delete_many",
    "clear",
):
    setattr(FallbackRedisCache, _name, _either(_name))
