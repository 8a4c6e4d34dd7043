"""The fast test profile: everything real (PostgreSQL via DATABASE_URL), only the hasher is cheap."""

import os

import environ

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK

# Tests run against real PostgreSQL, never the quick-start's SQLite: without DATABASE_URL, the local server.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"] = {  # noqa: F405
        **environ.Env.db_url_config("postgres://postgres@127.0.0.1:5432/disputes"),
        "ATOMIC_REQUESTS": False,
        "CONN_MAX_AGE": 60,
        **{k: v for k, v in DATABASES["default"].items() if k == "TEST"},  # noqa: F405
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {**REST_FRAMEWORK}

# Django's test runner empties every table (TRUNCATE) after a transactional test; the audit log's
# append-only trigger (core migration 0005) lets that through only for sessions that say so.
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    _options = DATABASES["default"].setdefault("OPTIONS", {})  # noqa: F405
    _options["options"] = (_options.get("options", "") + " -c core.allow_event_truncate=on").strip()

# Suites write far faster than people: the abuse limits (issue #8) are tested with their own rates.
THROTTLE_RATES = {"write": "100000/min", "auth": "100000/min"}
# xdist workers and parallel runs share one Redis: a key prefix per process keeps counts apart.
for _cache in CACHES.values():  # noqa: F405
    _cache["KEY_PREFIX"] = f"test-{os.getpid()}"
# A category's §9 figures are kept 10 minutes (penalties.selectors._category_counts); tests count
# them fresh, and tests/penalties/test_metrics_cache.py turns the cache on.
METRICS_CATEGORY_CACHE_SECONDS = 0
# The overview's numbers likewise (dashboard.selectors.overview; tests/dashboard/test_overview_cache.py).
DASHBOARD_OVERVIEW_CACHE_SECONDS = 0
