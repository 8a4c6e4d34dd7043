"""Every action from every refund state, generated from the state machine (REFUND_TRANSITIONS):
allowed → the new state, not allowed → 409 with a code. Driven through the API as the right party."""

from decimal import Decimal

import pytest
import time_machine

from disputes import services
from disputes.models import Complaint, Refund
from disputes.services.refunds import REFUND_TRANSITIONS
from tests.disputes.helpers import DAY, T0, at, make_order

pytestmark = pytest.mark.django_db

S = Refund.Status
FILED = T0 + 4 * DAY
ACT_AT = FILED + 16 * DAY  # past R-T09's 15 days, so escalation is open from every escalatable state

# The state each allowed action leads to, for a return_and_refund request.
LEADS_TO = {
    "approve": S.AWAITING_RETURN,
    "refuse": S.SELLER_REFUSED,
    "modify": S.PENDING_SELLER,
    "return_shipment": S.RETURN_SHIPPED,
    "confirm_return": S.REFUNDED,
    "reject_return": S.RETURN_REJECTED,
    "escalate": S.IN_ARBITRATION,
    "withdraw": S.CLOSED,
}

ENDPOINT = {
    "approve": ("seller", "approve", {}),
    "refuse": ("seller", "refuse", {"reason": "不同意"}),
    "modify": ("buyer", "modify", {"amount": "150.00"}),
    "return_shipment": ("buyer", "return-shipment", {"carrier": "顺丰", "tracking_number": "SF1"}),
    "confirm_return": ("seller", "confirm-return", {}),
    "reject_return": ("seller", "reject-return", {"reason": "空包裹"}),
    "escalate": ("buyer", "escalate", {}),
    "withdraw": ("buyer", "withdraw", {}),
}


def _refund_in(cast, state: str) -> Refund:
    """A refund brought to `state` through the real services."""
    # No express refund (R-F06) so that a rejected return stays `return_rejected`.
    Complaint.objects.create(
        order=make_order(cast, "received", paid_at=T0 - 30 * DAY),
        shop=cast.shop,
        buyer=cast.buyer,
        created_by=cast.buyer,
        type="misdescription",
        status="dismissed",
        ruled_at=T0,
    )
    order = make_order(cast, "received", complete=True)
    kind = "exchange" if state == S.EXCHANGED else "return_and_refund"
    amount = Decimal("0.00") if kind == "exchange" else Decimal("200.00")
    refund = at(
        FILED, services.refund_file, actor=cast.buyer, order=order, kind=kind, reason="quality_issue", amount=amount
    )
    step = FILED

    def then(fn, **kwargs):
        nonlocal step
        step += DAY
        at(step, fn, refund=refund, **kwargs)

    if state == S.PENDING_SELLER:
        return refund
    if state in (S.SELLER_REFUSED, S.IN_ARBITRATION):
        then(services.refund_refuse, actor=cast.seller, reason="不同意")
        if state == S.IN_ARBITRATION:
            then(services.refund_escalate, actor=cast.buyer)
        return refund
    if state == S.CLOSED:
        then(services.refund_withdraw, actor=cast.buyer)
        return refund
    then(services.refund_approve, actor=cast.seller)
    if state == S.AWAITING_RETURN:
        return refund
    then(services.refund_return_shipment, actor=cast.buyer, carrier="顺丰", tracking_number="SF0")
    if state == S.RETURN_SHIPPED:
        return refund
    if state == S.RETURN_REJECTED:
        then(services.refund_reject_return, actor=cast.seller, reason="不是我们发出的商品")
        return refund
    then(services.refund_confirm_return, actor=cast.seller)  # refunded, or exchanged for an exchange
    return refund


@pytest.mark.parametrize("action", sorted(REFUND_TRANSITIONS))
@pytest.mark.parametrize("state", [s.value for s in S])
def test_every_action_from_every_state(cast, api, state, action):
    refund = _refund_in(cast, state)
    refund.refresh_from_db()
    assert refund.status == state
    who, path, body = ENDPOINT[action]
    with time_machine.travel(ACT_AT, tick=False):
        response = api(getattr(cast, who)).post(f"/api/v1/refunds/{refund.pk}/{path}/", body, format="json")
    refund.refresh_from_db()
    if state in REFUND_TRANSITIONS[action]:
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == LEADS_TO[action]
        assert refund.status == LEADS_TO[action]
    else:
        assert response.status_code == 409, response.json()
        assert response.json()["code"] == "invalid_transition"
        assert state in response.json()["detail"]
        assert refund.status == state  # nothing changed
