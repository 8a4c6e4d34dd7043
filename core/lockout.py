"""Login lockout (issue #8): after `LOGIN_LOCKOUT_FAILURES` failed sign-ins for one username from
one client address, that pair is refused for `LOGIN_LOCKOUT_SECONDS` — correct password or not.

Counted in the cache (core.cache.FailOpenRedisCache: with Redis down the count lives in process
memory, so the lock still holds per process). Keyed by username *and* address, so an attacker
elsewhere cannot lock a real user out of their own sign-in. Every path that calls
`django.contrib.auth.authenticate` — the token endpoint, the dashboard's sign-in, the admin — goes
through `LockoutModelBackend`, so none of them needs code of its own.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)


def client_address(request) -> str:
    """The client's address as DRF's throttles see it (REST_FRAMEWORK["NUM_PROXIES"] behind a proxy)."""
    if request is None:
        return "-"
    return BaseThrottle().get_ident(request) or "-"


def _key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}|{address}".encode()).hexdigest()
    return f"login-failures:{digest}"


def failures(username: str, address: str) -> int:
    try:
        return int(cache.get(_key(username, address)) or 0)
    except Exception:  # fail open: a broken cache never locks everyone out
        logger.warning("lockout: cache unavailable", exc_info=True)
        return 0


def is_locked(username: str, address: str) -> bool:
    return failures(username, address) >= settings.LOGIN_LOCKOUT_FAILURES


def failure_record(username: str, address: str) -> int:
    """Count one failed sign-in; the window restarts with each failure."""
    key = _key(username, address)
    try:
        count = int(cache.get(key) or 0) + 1
        cache.set(key, count, timeout=settings.LOGIN_LOCKOUT_SECONDS)
    except Exception:
        logger.warning("lockout: cache unavailable", exc_info=True)
        return 0
    if count == settings.LOGIN_LOCKOUT_FAILURES:
        logger.warning("lockout: %r locked out from %s after %s failures", username, address, count)
    return count


def failures_clear(username: str, address: str) -> None:
    try:
        cache.delete(_key(username, address))
    except Exception:
        logger.warning("lockout: cache unavailable", exc_info=True)


class LockoutModelBackend(ModelBackend):
    """ModelBackend that refuses a locked-out (username, address) pair and counts failures."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        address = client_address(request)
        if is_locked(username, address):
            failure_record(username, address)
            raise PermissionDenied("locked out")  # authenticate() stops here: no other backend tries
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            failure_record(username, address)
        else:
            failures_clear(username, address)
        return user
