"""A Redis cache that degrades instead of failing (issue #8: Redis down, the API still writes).

Django's RedisCache raises on a connection error, and the throttles and the login lockout read the
cache on every request. This backend answers from a per-process memory cache while Redis is
unreachable, and tries Redis again `RETRY_SECONDS` after the last failure: limits still hold per
process (never wide open, never everyone locked out), and no request waits on a dead server longer
than the socket timeouts. Nothing the product needs to keep lives in the cache: deadlines are rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class _KeptClientRedisCacheClient(RedisCacheClient):
    """Django's client builds a new `redis.Redis` on every call (copying its ~170 response callbacks into
    a case-insensitive dictionary: 68 µs, and a command through a new client costs 100 µs more than
    through a kept one, #9). A `redis.Redis` is only a view on its connection pool and safe to share, so
    one is kept per pool, for the process (in a forked child the pool opens new connections: redis-py
    checks the pid)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]  # private in the stubs
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
            client = self._clients[index] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class FailOpenRedisCache(RedisCache):
    """RedisCache whose every call falls back to a local memory cache while Redis is down."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        self.retry_seconds = float(options.pop("RETRY_SECONDS", 5))
        options.setdefault("socket_connect_timeout", 0.5)
        options.setdefault("socket_timeout", 0.5)
        params["OPTIONS"] = options
        super().__init__(server, params)
        self._class = _KeptClientRedisCacheClient
        self._fallback = LocMemCache(f"fail-open-{id(self)}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self._down_until = 0.0
        self.failures = 0  # how many calls Redis failed (for health checks and tests)
        self._lock = threading.Lock()

    @property
    def redis_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if not self.redis_down:
            try:
                return getattr(super(), name)(*args, **kwargs)
            except RedisError as exc:  # connection refused, timeout, OOM …
                with self._lock:
                    self.failures += 1
                    if not self.redis_down:
                        logger.warning(
                            "cache: Redis unavailable (%s), using process memory for %ss", exc, self.retry_seconds
                        )
                    self._down_until = time.monotonic() + self.retry_seconds
        return getattr(self._fallback, name)(*args, **kwargs)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version)

    def clear(self):
        return self._call("clear")


def kept_for(
    key: str,
    *,
    seconds: float,
    now: dt.datetime,
    compute: Callable[[], dict],
    later: Callable[[str], object] | None = None,
) -> dict:
    """`compute()` with `as_of: now` added, kept in the cache under `key` for `seconds` (0: computed on
    every call) for the figures that are the same for every viewer and costly at a peak's size (#9:
    a category's §9 counts, the overview). A kept value is fresh while `now − as_of` is within the
    period (the store's own expiry runs on its clock, not on the caller's `now`). Once it is older, one
    caller takes a lock (`add`) and the figures are counted again while everyone else is answered with
    the older value, kept for a second period for that: a peak's viewers never all count at once.

    `later(token)` hands that count to a Celery worker (a task that ends in `keep_counted` with the
    lock's `token`): then no viewer waits for it, the one who took the lock included, who is answered
    with the older value too (or with the new one, where the task ran in the caller: the quick start's
    eager Celery). Where the broker does not take the task at once (queue_at_once), that caller counts,
    as without `later`. Only a key with nothing kept (the first view, or none for two periods) is
    counted by its viewer."""
    from django.core.cache import cache

    if seconds <= 0:
        return {**compute(), "as_of": now}
    cached = cache.get(key)
    age = now - cached["as_of"] if cached is not None else None
    if age is not None and dt.timedelta(0) <= age < dt.timedelta(seconds=seconds):
        return cached
    counting = _counting(key)
    locked = age is not None and age >= dt.timedelta(0)  # grown old: count under the lock
    token = uuid.uuid4().hex
    if locked and not cache.add(counting, token, timeout=seconds):
        return cached  # another caller is counting them again
    if locked and later is not None:
        try:
            later(token)
        except Exception:  # the broker unreachable, whatever its error: this caller counts
            logger.warning("could not hand the count of %s to a worker; counting it here", key, exc_info=True)
        else:
            return cache.get(key) or cached
    try:
        value = {**compute(), "as_of": now}
        cache.set(key, value, 2 * seconds)
    finally:
        if locked:  # only the lock this call took: never one another caller holds
            _release(counting, token)
    return value


def queue_at_once(task: Any, args: tuple) -> None:
    """Queue `task` with `args` on the broker or raise at once: one attempt at the connection, none at
    the publishing. For a hand-over a viewer waits on (kept_for's `later`): left to kombu, a publisher
    that finds the broker down retries the connection past broker_connection_timeout (6 s measured),
    and for ever under a clock that stands still (DECISIONS.md)."""
    with task.app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=0)
        task.apply_async(args, producer=producer, retry=False)


def keep_counted(key: str, *, seconds: float, now: dt.datetime, compute: Callable[[], dict], token: str) -> dict:
    """The worker's half of kept_for's `later`: the figures counted as of `now` (the moment the viewer
    asked, so never later than any viewer's clock), kept under `key`, and the viewer's lock (`token`)
    let go, unless it ran out meanwhile and another caller holds it now."""
    from django.core.cache import cache

    try:
        value = {**compute(), "as_of": now}
        if seconds > 0:
            cache.set(key, value, 2 * seconds)
    finally:
        _release(_counting(key), token)
    return value


def _counting(key: str) -> str:
    """The lock of the one caller counting `key` again (kept_for)."""
    return f"{key}:counting"


def _release(counting: str, token: str) -> None:
    """Let go of the lock `counting` if `token` holds it (a lock that ran out may be another's now)."""
    from django.core.cache import cache

    if cache.get(counting) == token:
        cache.delete(counting)
