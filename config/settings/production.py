"""Production: `DJANGO_SETTINGS_MODULE=config.settings.production`. Everything of base.py, read from
the environment, plus the transport and cookie hardening `manage.py check --deploy` asks for
(tests/security/test_abuse_limits.py runs it and expects no warning).

TLS ends at the load balancer, which sets X-Forwarded-Proto; set SECURE_PROXY_SSL_HEADER_ENABLED=0
only if Django itself terminates TLS.
"""

import environ

from .base import *  # noqa: F403
from .base import env

DEBUG = False
if not env.str("SECRET_KEY", default=""):
    raise environ.ImproperlyConfigured("SECRET_KEY must be set in production")

# HTTPS everywhere, and browsers told to remember it for a year (preload once the domain is listed).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]  # the load balancer's plain-HTTP health probe
if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Cookies: never over plain HTTP, never read by scripts (the dashboard sends the CSRF token from the
# page, not from the cookie), not sent on cross-site requests.
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)  # a working day
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
