"""Abuse limits (issue #8): throttled writes and sign-ins, login lockout per username and address
on every sign-in path, request size limits, the CSP, and `check --deploy` on production settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "security-tests"}}


@pytest.fixture
def limits(settings):
    """Tight limits on a private in-memory cache (the shared Redis is other suites' too)."""
    settings.CACHES = LOCMEM
    settings.THROTTLE_RATES = {"write": "3/min", "auth": "50/min"}
    settings.LOGIN_LOCKOUT_FAILURES = 3
    settings.LOGIN_LOCKOUT_SECONDS = 600
    caches["default"].clear()
    yield settings
    caches["default"].clear()


def _token(client, username, password, addr="10.0.0.1"):
    return client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json", REMOTE_ADDR=addr
    )


def test_writes_are_throttled_per_user_with_a_code(limits, cast, api):
    client = api(cast.agent)
    statuses = [client.post("/api/v1/cases/999999/notes/", {"body": "x"}).status_code for _ in range(4)]
    assert statuses[:3] == [404, 404, 404]
    response = client.post("/api/v1/cases/999999/notes/", {"body": "x"})
    assert response.status_code == 429
    assert response.json()["code"] == "throttled" and "Retry-After" in response
    # Reads are not writes; another user has their own budget.
    assert client.get("/api/v1/notifications/").status_code == 200
    assert api(cast.arbitrator).post("/api/v1/cases/999999/notes/", {"body": "x"}).status_code == 404


def test_token_sign_ins_are_throttled_per_address(limits, cast):
    limits.THROTTLE_RATES = {"write": "100/min", "auth": "2/min"}
    client = APIClient()
    assert _token(client, "buyer", "pw").status_code == 200
    assert _token(client, "agent", "pw").status_code == 200
    blocked = _token(client, "seller", "pw")
    assert blocked.status_code == 429 and blocked.json()["code"] == "throttled"
    assert _token(client, "seller", "pw", addr="10.0.0.2").status_code == 200


def test_token_lockout_after_repeated_failures_even_with_the_right_password(limits, cast):
    client = APIClient()
    for _ in range(3):
        response = _token(client, "buyer", "wrong")
        assert response.status_code == 400 and response.json()["code"] == "invalid"
    locked = _token(client, "buyer", "pw")
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out" and int(locked["Retry-After"]) == 600
    # Another address, or another username from this address, is not locked out.
    assert _token(client, "buyer", "pw", addr="10.0.0.9").status_code == 200
    assert _token(client, "agent", "pw").status_code == 200


def test_a_success_before_the_limit_resets_the_count(limits, cast):
    client = APIClient()
    _token(client, "buyer", "wrong")
    _token(client, "buyer", "wrong")
    assert _token(client, "buyer", "pw").status_code == 200
    _token(client, "buyer", "wrong")
    _token(client, "buyer", "wrong")
    assert _token(client, "buyer", "pw").status_code == 200


def test_the_dashboard_sign_in_shares_the_lockout(limits, cast, client):
    for _ in range(3):
        assert client.post("/login/", {"username": "agent", "password": "nope"}).status_code == 200
    response = client.post("/login/", {"username": "agent", "password": "pw"})
    assert response.status_code == 200, "a locked-out sign-in stays on the form"
    assert "_auth_user_id" not in client.session
    # …and the token endpoint sees the same lock (same username, same address).
    assert _token(APIClient(), "agent", "pw", addr="127.0.0.1").json()["code"] == "locked_out"


def test_lockout_and_throttles_fail_open_when_the_cache_raises(limits, cast, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    cache = caches["default"]
    for name in ("get", "set", "add", "delete", "incr"):
        monkeypatch.setattr(cache, name, broken)
    client = APIClient()
    for _ in range(5):
        _token(client, "buyer", "wrong")
    assert _token(client, "buyer", "pw").status_code == 200


def test_oversized_bodies_are_refused_before_they_are_read(cast, api):
    client = api(cast.buyer)
    big = '{"description": "' + "x" * 3_000_000 + '"}'
    response = client.post("/api/v1/refunds/", big, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"
    response = client.generic("POST", "/api/v1/refunds/", "{}", "application/json", CONTENT_LENGTH="nope")
    assert response.status_code == 400


def test_pages_carry_a_strict_content_security_policy(client):
    policy = client.get("/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'", "no inline or outside scripts"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "http" not in policy


def test_check_deploy_is_clean_with_production_settings():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "k" * 20 + "-not-a-real-secret-Zq8vXw2pLm4nR7tY0uIo",
        "ALLOWED_HOSTS": "disputes.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_the_api_docs_need_no_inline_script(cast, client):
    client.force_login(cast.agent)
    page = client.get("/api/docs/").content.decode()
    assert "<script>" not in page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
