"""A property test of the refund and complaint state machines (issue #8).

Random sequences of actions through the API by random parties (buyer, seller, stranger seller, agent,
arbitrator), with random clock jumps and sweeps in between, never break the invariants:

- refunded ≤ paid, per order;
- the ledger sums to zero per currency (every movement balances);
- each refund and complaint is in exactly one known status, and a terminal one stays terminal (the
  only documented way back, a review reversal R-T20, is not among these actions);
- no pending, unpaused deadline on a terminal refund or complaint;
- every 4xx answer carries a `code`; no 5xx.

Each example runs in a savepoint rolled back at its end. PROPERTY_EXAMPLES sets how many (default 25).
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from disputes.engine import enforce_deadlines
from disputes.models import Complaint, Deadline, Refund
from penalties.models import LedgerEntry
from tests.disputes.helpers import T0, make_order

REFUND_TERMINAL = {"refunded", "exchanged", "closed"}
COMPLAINT_TERMINAL = {"upheld", "dismissed", "withdrawn"}
PARTIES = ("buyer", "seller", "stranger", "agent", "arbitrator")

REFUND_ACTIONS = {
    "approve": {},
    "refuse": {"reason": "证据不足", "evidence": []},
    "modify": {"amount": "50.00", "reason": "quality_issue"},
    "return-shipment": {"carrier": "顺丰", "tracking_number": "SF1"},
    "confirm-return": {},
    "reject-return": {"reason": "未收到退货", "evidence": []},
    "escalate": {},
    "withdraw": {},
}
COMPLAINT_ACTIONS = {
    "appeal": {"statement": "已按约定发货", "evidence": []},
    "rebut": {"statement": "没有收到", "evidence": []},
    "withdraw": {},
}
RULINGS = [
    {"outcome": "buyer_wins", "responsibility": "seller", "note": "卖家责任"},
    {"outcome": "seller_wins", "responsibility": "buyer", "note": "买家责任"},
    {"outcome": "partial", "refund_amount": "30.00", "responsibility": "seller", "note": "部分"},
]

step = st.one_of(
    st.tuples(st.just("refund"), st.sampled_from(sorted(REFUND_ACTIONS)), st.sampled_from(PARTIES)),
    st.tuples(st.just("complaint"), st.sampled_from(sorted(COMPLAINT_ACTIONS)), st.sampled_from(PARTIES)),
    st.tuples(st.just("file_refund"), st.sampled_from(["refund_only", "return_and_refund"]), st.just("buyer")),
    st.tuples(st.just("rule"), st.integers(0, len(RULINGS) - 1), st.sampled_from(PARTIES)),
    st.tuples(st.just("jump"), st.integers(1, 24 * 20), st.just("")),  # hours, then a sweep
)


def _users(cast) -> dict:
    return {
        "buyer": cast.buyer,
        "seller": cast.seller,
        "stranger": cast.stranger_seller,
        "agent": cast.agent,
        "arbitrator": cast.arbitrator,
    }


def _check_invariants(order, history: dict[tuple[str, int], str]) -> None:
    order.refresh_from_db()
    refunded = Refund.objects.filter(order=order, status="refunded").aggregate(s=Sum("refunded_amount"))["s"]
    assert (refunded or Decimal("0")) <= order.total_amount, "refunded more than was paid"
    for currency, total in LedgerEntry.objects.values_list("currency").annotate(s=Sum("amount")):
        assert total == 0, f"ledger in {currency} sums to {total}"
    for model, kind, terminal, valid in (
        (Refund, "refund", REFUND_TERMINAL, set(Refund.Status.values)),
        (Complaint, "complaint", COMPLAINT_TERMINAL, set(Complaint.Status.values)),
    ):
        for pk, status in model.objects.filter(order=order).values_list("pk", "status"):
            assert status in valid, f"{kind} {pk} in unknown status {status!r}"
            before = history.get((kind, pk))
            if before in terminal:
                assert status == before, f"{kind} {pk} left terminal {before} for {status}"
            history[(kind, pk)] = status
            if status in terminal:
                pending = Deadline.objects.filter(
                    subject_kind=kind, subject_id=pk, status="pending", paused_at__isnull=True
                )
                assert not pending.exists(), f"{kind} {pk} is {status} with pending {list(pending.values('kind'))}"


def _post(client, url: str, body: dict):
    response = client.post(url, body, format="json")
    assert response.status_code < 500, f"{response.status_code} on {url}"
    if 400 <= response.status_code < 500:
        assert response.json().get("code"), f"{response.status_code} on {url} without a code: {response.content}"
    return response


@pytest.mark.slow
@pytest.mark.django_db
def test_random_parties_actions_and_clock_jumps_keep_the_invariants(cast):
    users = _users(cast)
    clients = {}
    for name, user in users.items():
        clients[name] = APIClient()
        clients[name].force_authenticate(user)

    @settings(
        max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "25")),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(steps=st.lists(step, min_size=1, max_size=12))
    def run(steps):
        with transaction.atomic(), time_machine.travel(T0, tick=False) as clock:
            order = make_order(cast, "received", paid_at=T0 - dt.timedelta(days=3))
            clock.move_to(T0 + dt.timedelta(hours=1))
            refund = _post(
                clients["buyer"],
                "/api/v1/refunds/",
                {"order": order.pk, "kind": "return_and_refund", "reason": "quality_issue", "amount": "80.00"},
            ).json()
            complaint = _post(
                clients["buyer"],
                "/api/v1/complaints/",
                {"order": order.pk, "type": "misdescription", "severity": "minor", "description": "与描述不符"},
            ).json()
            refund_ids, now = [refund["id"]], T0 + dt.timedelta(hours=1)
            history: dict[tuple[str, int], str] = {}
            _check_invariants(order, history)
            for kind, what, party in steps:
                if kind == "refund":
                    _post(clients[party], f"/api/v1/refunds/{refund_ids[-1]}/{what}/", REFUND_ACTIONS[what])
                elif kind == "complaint":
                    _post(clients[party], f"/api/v1/complaints/{complaint['id']}/{what}/", COMPLAINT_ACTIONS[what])
                elif kind == "file_refund":
                    body = {"order": order.pk, "kind": what, "reason": "quality_issue", "amount": "40.00"}
                    response = _post(clients["buyer"], "/api/v1/refunds/", body)
                    if response.status_code == 201:
                        refund_ids.append(response.json()["id"])
                elif kind == "rule":
                    for case_id in Refund.objects.filter(order=order).exclude(case=None).values_list("case", flat=True):
                        _post(clients[party], f"/api/v1/cases/{case_id}/rule/", RULINGS[what])
                else:
                    now += dt.timedelta(hours=what)
                    clock.move_to(now)
                    enforce_deadlines()
                _check_invariants(order, history)
            transaction.set_rollback(True)

    run()
