"""The authorization matrix (issue #8): every operation of the live OpenAPI schema, as every role.

The operations come from drf-spectacular's generator, in process, so an endpoint added without a row
here fails `test_every_schema_operation_has_a_row` naming it (and a row whose endpoint is gone fails
too). Each row names the status each role gets, in the order of ROLES:

    buyer  seller  stranger  agent  arbitrator  integration  anonymous

on realistic objects (the cast's order, refund, complaint, case, penalty, evidence …), so a 404 is
another party's object (CONTRACT.md), a 403 a visible object with a forbidden action, a 401 no
credentials — never a missing fixture. POST bodies are `{}` unless the row gives one: the views check
who may act before they validate, so `{}` shows the authorization; where a check needs the body (the
complaint's type, evidence review in the service) the row gives a valid one. Every request runs in a
savepoint that is rolled back, so one role's success does not change what the next one meets.

`MATRIX_PRINT=1 pytest tests/security/test_authorization_matrix.py -s` prints what each role got.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

ROLES = ("buyer", "seller", "stranger", "agent", "arbitrator", "integration", "anonymous")
METHODS = ("get", "post", "put", "patch", "delete")


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in METHODS
    }


@dataclass
class Row:
    expected: str  # seven statuses, in the order of ROLES
    body: Callable[[Any], dict] | None = None  # world -> body (default {})
    query: Callable[[Any], str] | None = None  # world -> "?a=b"
    note: str = ""
    statuses: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.statuses = tuple(int(s) for s in self.expected.split())
        assert len(self.statuses) == len(ROLES), self.expected


def _complaint_body(w) -> dict:
    return {"order": w.fresh_order.pk, "type": "misdescription", "severity": "minor", "description": "描述不符"}


def _refund_body(w) -> dict:
    return {"order": w.fresh_order.pk, "kind": "refund_only", "reason": "quality_issue", "amount": "10.00"}


# fmt: off
#                                                        buyer seller stranger agent arbitrator integration anonymous
MATRIX: dict[tuple[str, str], Row] = {
    ("POST", "/api/v1/auth/token/"):                      Row("400 400 400 400 400 400 400", note="no credentials"),
    ("GET", "/api/v1/notifications/"):                    Row("200 200 200 200 200 200 401"),
    # shops and orders
    ("GET", "/api/v1/shops/"):                            Row("200 200 200 200 200 200 401"),
    ("POST", "/api/v1/shops/"):                           Row("403 403 403 400 403 400 401"),
    ("GET", "/api/v1/shops/{id}/"):                       Row("404 200 404 200 200 200 401"),
    ("GET", "/api/v1/shops/{id}/record/"):                Row("404 200 404 200 200 404 401"),
    ("GET", "/api/v1/orders/"):                           Row("200 200 200 200 200 200 401"),
    ("POST", "/api/v1/orders/"):                          Row("403 403 403 403 403 400 401"),
    ("GET", "/api/v1/orders/{id}/"):                      Row("200 200 404 200 200 200 401"),
    ("POST", "/api/v1/orders/{id}/pay/"):                 Row("403 403 404 403 403 409 401"),
    ("POST", "/api/v1/orders/{id}/ship/"):                Row("403 400 404 403 403 400 401"),
    ("POST", "/api/v1/orders/{id}/deliver/"):             Row("403 403 404 403 403 400 401"),
    ("POST", "/api/v1/orders/{id}/confirm-receipt/"):     Row("409 403 404 403 403 403 401"),
    ("POST", "/api/v1/orders/{id}/close/"):               Row("403 403 404 403 403 409 401"),
    ("POST", "/api/v1/orders/{id}/review/"):              Row("403 403 404 403 403 400 401"),
    # refunds
    ("GET", "/api/v1/refunds/"):                          Row("200 200 200 200 200 200 401"),
    ("POST", "/api/v1/refunds/"):                         Row("201 403 403 400 400 403 401", body=_refund_body,
                                                              note="staff must name the buyer: 400"),
    ("GET", "/api/v1/refunds/{id}/"):                     Row("200 200 404 200 200 404 401"),
    ("GET", "/api/v1/refunds/{id}/timeline/"):            Row("200 200 404 200 200 404 401"),
    ("POST", "/api/v1/refunds/{id}/approve/"):            Row("403 200 404 403 403 404 401"),
    ("POST", "/api/v1/refunds/{id}/refuse/"):             Row("403 400 404 403 403 404 401"),
    ("POST", "/api/v1/refunds/{id}/modify/"):             Row("409 403 404 403 403 404 401"),
    ("POST", "/api/v1/refunds/{id}/return-shipment/"):    Row("400 403 404 403 403 404 401"),
    ("POST", "/api/v1/refunds/{id}/confirm-return/"):     Row("403 409 404 403 403 404 401"),
    ("POST", "/api/v1/refunds/{id}/reject-return/"):      Row("403 400 404 403 403 404 401"),
    ("POST", "/api/v1/refunds/{id}/escalate/"):           Row("409 409 404 403 403 404 401"),
    ("POST", "/api/v1/refunds/{id}/withdraw/"):           Row("200 403 404 403 403 404 401"),
    ("POST", "/api/v1/refunds/{id}/request-reason-change/"): Row("403 409 404 403 403 404 401",
                                                              note="R-F07 only for out_of_stock/late_shipment: 409"),
    ("POST", "/api/v1/refunds/{id}/replacement-shipment/"): Row("403 400 404 403 403 404 401"),
    # complaints
    ("GET", "/api/v1/complaints/"):                       Row("200 200 200 200 200 200 401"),
    ("POST", "/api/v1/complaints/"):                      Row("201 403 400 400 400 403 401", body=_complaint_body,
                                                              note="stranger: the order is not theirs to name (400)"),
    ("GET", "/api/v1/complaints/{id}/"):                  Row("200 200 404 200 200 404 401"),
    ("GET", "/api/v1/complaints/{id}/timeline/"):         Row("200 200 404 200 200 404 401"),
    ("POST", "/api/v1/complaints/{id}/appeal/"):          Row("403 400 404 403 403 404 401"),
    ("POST", "/api/v1/complaints/{id}/rebut/"):           Row("400 403 404 403 403 404 401"),
    ("POST", "/api/v1/complaints/{id}/withdraw/"):        Row("200 403 404 403 403 404 401"),
    # cases: the platform's queue; the parties reach a case only to request a review
    ("GET", "/api/v1/cases/"):                            Row("403 403 403 200 200 403 401"),
    ("GET", "/api/v1/cases/{id}/"):                       Row("403 403 403 200 200 403 401"),
    ("GET", "/api/v1/cases/{id}/timeline/"):              Row("403 403 403 200 200 403 401"),
    ("GET", "/api/v1/cases/{id}/export/"):                Row("403 403 403 200 200 403 401"),
    ("POST", "/api/v1/cases/{id}/assign/"):               Row("403 403 403 400 400 403 401"),
    ("POST", "/api/v1/cases/{id}/request-evidence/"):     Row("403 403 403 400 400 403 401"),
    ("POST", "/api/v1/cases/{id}/notes/"):                Row("403 403 403 400 400 403 401"),
    ("POST", "/api/v1/cases/{id}/agreement/"):            Row("403 403 403 400 400 403 401"),
    ("POST", "/api/v1/cases/{id}/rule/"):                 Row("403 403 403 403 400 403 401"),
    ("POST", "/api/v1/cases/{id}/suspend/"):              Row("403 403 403 403 400 403 401"),
    ("POST", "/api/v1/cases/{id}/resume/"):               Row("403 403 403 403 400 403 401"),
    ("POST", "/api/v1/cases/{id}/decide-review/"):        Row("403 403 403 403 400 403 401"),
    ("POST", "/api/v1/cases/{id}/request-review/"):       Row("400 400 404 404 404 404 401"),
    # evidence
    ("GET", "/api/v1/evidence/"):                         Row("200 200 200 200 200 200 401"),
    ("POST", "/api/v1/evidence/"):                        Row("400 400 400 400 400 403 401"),
    ("GET", "/api/v1/evidence/{id}/"):                    Row("200 200 404 200 200 404 401"),
    ("GET", "/api/v1/evidence/{id}/download/"):           Row("200 200 404 200 200 404 401"),
    ("GET", "/api/v1/evidence/{id}/thumbnail/"):          Row("200 200 404 200 200 404 401"),
    ("POST", "/api/v1/evidence/{id}/review/"):            Row("403 403 404 200 200 404 401",
                                                              body=lambda w: {"verdict": "accepted", "note": "ok"}),
    ("GET", "/api/v1/evidence/checklist/"):               Row("200 200 404 200 200 404 401",
                                                              query=lambda w: f"?refund={w.refund.pk}"),
    # penalties, obligations, ledger
    ("GET", "/api/v1/penalties/"):                        Row("200 200 200 200 200 200 401"),
    ("GET", "/api/v1/penalties/{id}/"):                   Row("404 200 404 200 200 404 401"),
    ("POST", "/api/v1/penalties/{id}/revoke/"):           Row("404 403 404 403 400 404 401"),
    ("GET", "/api/v1/obligations/"):                      Row("200 200 200 200 200 200 401"),
    ("GET", "/api/v1/obligations/{id}/"):                 Row("404 200 404 200 200 404 401"),
    ("POST", "/api/v1/obligations/{id}/perform/"):        Row("404 403 404 200 200 404 401"),
    ("GET", "/api/v1/ledger/"):                           Row("200 200 200 200 200 200 401"),
    # after-sales desk (RULEBOOK §10): platform staff only
    ("GET", "/api/v1/registrations/"):                    Row("403 403 403 200 200 403 401"),
    ("POST", "/api/v1/registrations/"):                   Row("403 403 403 400 400 403 401"),
    ("GET", "/api/v1/registrations/{id}/"):               Row("403 403 403 200 200 403 401"),
    ("PATCH", "/api/v1/registrations/{id}/"):             Row("403 403 403 200 200 403 401"),
    ("GET", "/api/v1/logistics-claims/"):                 Row("403 403 403 200 200 403 401"),
    ("POST", "/api/v1/logistics-claims/"):                Row("403 403 403 400 400 403 401"),
    ("GET", "/api/v1/logistics-claims/{id}/"):            Row("403 403 403 200 200 403 401"),
    ("PATCH", "/api/v1/logistics-claims/{id}/"):          Row("403 403 403 200 200 403 401"),
    ("GET", "/api/v1/agents/performance/"):               Row("403 403 403 200 200 403 401"),
}
# fmt: on

# Which object a path's {id} names.
PATH_OBJECT = {
    "shops": "shop",
    "orders": "order",
    "refunds": "refund",
    "complaints": "complaint",
    "cases": "case",
    "evidence": "evidence",
    "penalties": "penalty",
    "obligations": "obligation",
    "registrations": "registration",
    "logistics-claims": "logistics_claim",
}


def _client(cast, role: str) -> APIClient:
    client = APIClient()
    user = {
        "buyer": cast.buyer,
        "seller": cast.seller,
        "stranger": cast.stranger_seller,
        "agent": cast.agent,
        "arbitrator": cast.arbitrator,
        "integration": cast.integration,
        "anonymous": None,
    }[role]
    if user is not None:
        client.force_authenticate(user)
    return client


def _url(path: str, world) -> str:
    if "{id}" in path:
        resource = path.removeprefix("/api/v1/").split("/")[0]
        path = path.replace("{id}", str(getattr(world, PATH_OBJECT[resource]).pk))
    return path


def test_every_schema_operation_has_a_row():
    live = schema_operations()
    missing = sorted(live - MATRIX.keys())
    stale = sorted(MATRIX.keys() - live)
    assert not missing, "operations in the schema without an authorization row: " + ", ".join(
        f"{m} {p}" for m, p in missing
    )
    assert not stale, "rows for operations no longer in the schema: " + ", ".join(f"{m} {p}" for m, p in stale)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", sorted(MATRIX), ids=lambda op: f"{op[0]} {op[1]}")
def test_each_role_gets_its_status(operation, cast, world):
    method, path = operation
    row = MATRIX[operation]
    url = _url(path, world) + (row.query(world) if row.query else "")
    body = row.body(world) if row.body else {}
    got: list[int] = []
    codes: dict[str, Any] = {}
    for role in ROLES:
        client = _client(cast, role)
        with transaction.atomic():
            if method == "GET":
                response = client.get(url)
            else:
                response = getattr(client, method.lower())(url, body, format="json")
            transaction.set_rollback(True)
        got.append(response.status_code)
        if response.status_code >= 400 and response.get("Content-Type", "").startswith("application/json"):
            codes[role] = response.json().get("code")
    if os.environ.get("MATRIX_PRINT"):
        print(f'\n    ("{method}", "{path}"): Row("{" ".join(map(str, got))}"),  # {codes}')
    mismatches = [
        f"{role}: expected {want}, got {have} ({codes.get(role)})"
        for role, want, have in zip(ROLES, row.statuses, got, strict=True)
        if want != have
    ]
    assert not mismatches, f"{method} {path}: " + "; ".join(mismatches)
    # Every error answers with a machine-readable code (CONTRACT.md).
    for role, status in zip(ROLES, got, strict=True):
        if status >= 400:
            assert codes.get(role), f"{method} {path} as {role}: {status} without a code"
