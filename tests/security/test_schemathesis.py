"""Schemathesis against /api/schema/ (issue #8): generated input for every operation, sent in process
through the WSGI application as an arbitrator (token auth) on a world of real objects. No answer may
be a 5xx, and every documented response must match its schema.

Each request runs in a savepoint that is rolled back, so the data stays the world's. The number of
examples per operation is SCHEMATHESIS_MAX_EXAMPLES (default 12: the suite stays fast; raise it for
a deeper run, e.g. `SCHEMATHESIS_MAX_EXAMPLES=200 pytest tests/security/test_schemathesis.py`).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12"))

# Known schema mismatches reported to their owners: these operations are still held to "no 5xx", not
# yet to response conformance. Remove the line once fixed.
KNOWN_SCHEMA_MISMATCHES: dict[tuple[str, str], str] = {}


@pytest.fixture
def keep_connection():
    """As Django's test client does: a request must not close the test's connection (and transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _fuzz(operation, headers: dict, checks: list) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case):
        with transaction.atomic():
            response = case.call(headers=headers)
            transaction.set_rollback(True)
        where = f"{case.method} {case.formatted_path} {case.query or ''} {str(case.body)[:200]}"
        assert response.status_code < 500, f"{response.status_code} on {where}: {response.text[:500]}"
        if checks:
            case.validate_response(response, checks=checks)

    run()


@pytest.mark.slow
@pytest.mark.django_db
def test_no_generated_input_gets_a_5xx_and_responses_match_the_schema(cast, world, keep_connection):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    token = Token.objects.create(user=cast.arbitrator)
    headers = {"Authorization": f"Token {token.key}"}
    failures: list[str] = []
    tested = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/v1/auth/token/":
            continue  # sign-in, not an API call as a user: tested in test_abuse_limits

        checks = [response_schema_conformance, content_type_conformance]
        if (operation.method.upper(), operation.path) in KNOWN_SCHEMA_MISMATCHES:
            checks = []

        try:
            _fuzz(operation, headers, checks)
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, not only the first
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
        tested += 1

    assert tested >= 60
    assert not failures, "\n\n".join(failures)
