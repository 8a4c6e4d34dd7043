"""Seller claims against buyers (RULEBOOK §4, R-T22): the R-C01 flow with the roles swapped, both
outcomes, the buyer's 24 h answer window one second either side, and the upheld consequences."""

import pytest
import time_machine

from core.errors import RuleViolation
from disputes import services
from disputes.models import Case, Complaint
from disputes.selectors import buyer_risk_signals
from disputes.services.refunds import buyer_in_good_standing
from orders import services as orders
from penalties.models import Penalty
from tests.disputes.helpers import DAY, HOUR, SECOND, T0, at, make_order, sweep

pytestmark = pytest.mark.django_db


def _claim(cast, *, type="malicious_review"):
    order = make_order(cast, "received", complete=True)
    review = at(
        order.completed_at + HOUR,
        orders.review_record,
        order=order,
        actor=cast.integration,
        rating=1,
        text="垃圾店铺,不退款就天天差评",
    )
    filed = order.completed_at + 2 * DAY
    claim = at(filed, services.complaint_file, actor=cast.seller, order=order, type=type, description="以差评要挟退款")
    return order, review, claim, filed


def test_the_buyer_has_24h_to_answer_or_the_claim_is_upheld(cast):
    _order, review, claim, filed = _claim(cast)
    assert claim.complainant == "seller" and claim.status == "awaiting_appeal"
    sweep(filed + 24 * HOUR - SECOND)
    claim.refresh_from_db()
    assert claim.status == "awaiting_appeal"
    sweep(filed + 24 * HOUR + SECOND)
    claim.refresh_from_db()
    assert claim.status == "upheld"
    review.refresh_from_db()
    assert review.hidden_at is not None and str(claim.pk) in review.hidden_reason
    # No penalty to the seller: the buyer is the accused.
    assert not Penalty.objects.exists()
    with time_machine.travel(filed + 2 * DAY, tick=False):
        assert not buyer_in_good_standing(cast.buyer)  # express refund withdrawn for 90 days
    with time_machine.travel(filed + 24 * HOUR + 91 * DAY, tick=False):
        assert buyer_in_good_standing(cast.buyer)


def test_upheld_after_arbitration_marks_the_buyers_record(cast):
    _order, review, claim, filed = _claim(cast, type="extortion")
    at(filed + 24 * HOUR - SECOND, services.complaint_appeal, complaint=claim, actor=cast.buyer, statement="我没有勒索")
    at(filed + 25 * HOUR, services.complaint_rebut, complaint=claim, actor=cast.seller, statement="聊天记录为证")
    case = Case.objects.get(complaint=claim)
    at(
        filed + 2 * DAY,
        services.case_rule,
        case=case,
        actor=cast.arbitrator,
        outcome="seller_wins",
        responsibility="buyer",
    )
    claim.refresh_from_db()
    review.refresh_from_db()
    assert claim.status == "upheld" and review.hidden_at is not None
    with time_machine.travel(filed + 3 * DAY, tick=False):
        signals = {s["code"]: s for s in buyer_risk_signals(case=case)}
    assert "seller_claims_upheld" in signals and str(claim.pk) in signals["seller_claims_upheld"]["fact"]


def test_dismissed_nothing_happens_to_the_buyer(cast):
    _order, review, claim, filed = _claim(cast)
    at(filed + HOUR, services.complaint_appeal, complaint=claim, actor=cast.buyer, statement="如实评价")
    at(filed + 2 * HOUR, services.complaint_rebut, complaint=claim, actor=cast.seller, statement="不是")
    case = Case.objects.get(complaint=claim)
    at(filed + DAY, services.case_rule, case=case, actor=cast.arbitrator, outcome="buyer_wins", responsibility="seller")
    claim.refresh_from_db()
    review.refresh_from_db()
    assert claim.status == "dismissed" and review.hidden_at is None
    with time_machine.travel(filed + 2 * DAY, tick=False):
        assert buyer_in_good_standing(cast.buyer)
    assert not Penalty.objects.exists()


def test_r_t22_counts_from_the_review_when_it_came_after_completion(cast):
    order = make_order(cast, "received", complete=True)
    posted = order.completed_at + 10 * DAY
    at(posted, orders.review_record, order=order, actor=cast.integration, rating=1)
    with pytest.raises(RuleViolation) as err:
        at(posted + 15 * DAY + SECOND, services.complaint_file, actor=cast.seller, order=order, type="malicious_review")
    assert err.value.code == "claim_window_closed"
    claim = at(
        posted + 15 * DAY - SECOND, services.complaint_file, actor=cast.seller, order=order, type="malicious_review"
    )
    assert claim.status == Complaint.Status.AWAITING_APPEAL


def test_integration_pushes_reviews(cast, api):
    order = make_order(cast, "received", complete=True)
    with time_machine.travel(T0 + 4 * DAY, tick=False):
        r = api(cast.integration).post(f"/api/v1/orders/{order.pk}/review/", {"rating": 1, "text": "差"}, format="json")
        assert r.status_code == 201 and r.json()["buyer"] == cast.buyer.pk
        assert api(cast.buyer).post(f"/api/v1/orders/{order.pk}/review/", {"rating": 5}).status_code == 403
        r = api(cast.integration).post(f"/api/v1/orders/{order.pk}/review/", {"rating": 9}, format="json")
        assert r.status_code == 400 and "rating" in r.json()
