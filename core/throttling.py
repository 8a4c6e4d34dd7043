"""Abuse limits on the API (issue #8): scoped rates from settings, failing open on cache trouble.

Rates are read from `settings.THROTTLE_RATES` at request time (`{"write": "120/min", "auth": …}`),
so an operator or a test changes them without a restart of the class attributes. The cache behind
them is core.cache.FailOpenRedisCache, which already degrades to process memory; a throttle that
still cannot reach its cache lets the request through and logs it, never answering 500.
"""

from __future__ import annotations

import logging

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _SettingsRateThrottle(SimpleRateThrottle):
    def __init__(self) -> None:  # the rate is looked up per request, not frozen at import
        pass

    def get_rate(self) -> str | None:
        return getattr(settings, "THROTTLE_RATES", {}).get(self.scope)

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception:  # a broken cache must not turn into a 500
            logger.warning("throttle %s: cache unavailable, request allowed", self.scope, exc_info=True)
            return True


class WriteRateThrottle(_SettingsRateThrottle):
    """POST/PUT/PATCH/DELETE per user (per client address when anonymous): scope `write`."""

    scope = "write"

    def get_cache_key(self, request, view) -> str | None:
        if request.method not in UNSAFE_METHODS:
            return None
        if request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AuthRateThrottle(_SettingsRateThrottle):
    """Sign-in attempts per client address: scope `auth` (POST /api/v1/auth/token/)."""

    scope = "auth"

    def get_cache_key(self, request, view) -> str | None:
        if request.method not in UNSAFE_METHODS:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
