"""GET penalties/, POST penalties/{id}/revoke/, obligations, GET shops/{id}/record/ (CONTRACT.md)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.models import Event
from disputes.models import Case, Complaint, Deadline, Refund
from penalties import services
from penalties.models import Penalty
from tests.factories import OrderFactory, ShopFactory
from tests.penalties.factories import issue, source_order

CHINA = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 8, 8, 12, 0, tzinfo=CHINA)
SECOND = dt.timedelta(seconds=1)

pytestmark = pytest.mark.django_db


def _ids(response):
    body = response.json()
    return sorted(p["id"] for p in body.get("results", body))


# --- GET penalties/ -------------------------------------------------------------------------------


def test_penalties_list_scope_and_filters(cast, api, django_assert_max_num_queries):
    with time_machine.travel(dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=CHINA), tick=False):
        last_year = issue(cast.shop, "r_p06")
    with time_machine.travel(T0, tick=False):
        mine = issue(cast.shop, "r_p07")
        revoked = issue(cast.shop, "r_p06")
        services.penalty_revoke(penalty=revoked, actor=cast.arbitrator, reason="撤销")
        theirs = issue(cast.stranger_shop, "r_p06")

    assert _ids(api(cast.seller).get("/api/v1/penalties/")) == sorted([last_year.pk, mine.pk, revoked.pk])
    assert _ids(api(cast.stranger_seller).get("/api/v1/penalties/")) == [theirs.pk]
    assert _ids(api(cast.seller).get(f"/api/v1/penalties/?shop={cast.stranger_shop.pk}")) == []
    assert _ids(api(cast.buyer).get("/api/v1/penalties/")) == []
    agent = api(cast.agent)
    with django_assert_max_num_queries(6):
        assert len(_ids(agent.get("/api/v1/penalties/"))) == 4
    assert _ids(agent.get(f"/api/v1/penalties/?shop={cast.shop.pk}&year=2026")) == sorted([mine.pk, revoked.pk])
    # R-P10: 23:59:59 on 31 December China time is 2025, though it is 15:59:59 UTC.
    assert _ids(agent.get("/api/v1/penalties/?year=2025")) == [last_year.pk]
    assert _ids(agent.get(f"/api/v1/penalties/?shop={cast.shop.pk}&active=true")) == sorted([last_year.pk, mine.pk])
    assert _ids(agent.get("/api/v1/penalties/?active=false")) == [revoked.pk]
    assert api(None).get("/api/v1/penalties/").status_code in (401, 403)
    assert api(cast.seller).get(f"/api/v1/penalties/{theirs.pk}/").status_code == 404

    body = agent.get(f"/api/v1/penalties/{mine.pk}/").json()
    assert body["code"] == "r_p07" and body["point_class"] == "B" and body["status"] == "active"
    assert body["source"] == {"kind": "order", "id": mine.source_id}
    assert body["compensation_amount"] == "0.00" and body["compensation_form"] == "cash"


@pytest.mark.parametrize("query", ["year=abc", "active=maybe", "shop=x", "year=20261"])
def test_penalties_list_bad_filter_is_400(cast, api, query):
    response = api(cast.agent).get(f"/api/v1/penalties/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# --- POST penalties/{id}/revoke/ ---------------------------------------------------------------------


def test_revoke_who_may(cast, api):
    penalty = issue(cast.shop, "r_p06")
    url = f"/api/v1/penalties/{penalty.pk}/revoke/"
    assert api(cast.stranger_seller).post(url, {"reason": "x"}).status_code == 404
    assert api(cast.buyer).post(url, {"reason": "x"}).status_code == 404
    assert api(cast.seller).post(url, {"reason": "x"}).status_code == 403
    assert api(cast.agent).post(url, {"reason": "x"}).status_code == 403
    assert api(cast.arbitrator).post(url, {}).status_code == 400
    assert Penalty.objects.get().status == "active"

    response = api(cast.arbitrator).post(url, {"reason": "申诉成立"})
    assert response.status_code == 200
    assert response.json()["status"] == "revoked" and response.json()["revoke_reason"] == "申诉成立"
    again = api(cast.arbitrator).post(url, {"reason": "再次"})
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


def test_obligation_perform_api(cast, api):
    order = source_order(cast.shop)
    penalty = services.penalty_issue_breach(shop=cast.shop, kind="invoice", source=order, actor=cast.arbitrator)
    obligation = penalty.obligation
    url = f"/api/v1/obligations/{obligation.pk}/perform/"
    assert [o["id"] for o in api(cast.seller).get("/api/v1/obligations/").json()["results"]] == [obligation.pk]
    assert api(cast.stranger_seller).post(url, {}).status_code == 404
    assert api(cast.seller).post(url, {}).status_code == 403
    assert api(cast.agent).post(url, {"note": "发票已开具"}).json()["status"] == "performed"
    assert api(cast.agent).post(url, {}).status_code == 409
    assert api(cast.agent).get(f"/api/v1/penalties/{penalty.pk}/").json()["obligation"]["status"] == "performed"


# --- GET shops/{id}/record/ ------------------------------------------------------------------------


def test_record_who_may(cast, api):
    url = f"/api/v1/shops/{cast.shop.pk}/record/"
    for user in (cast.seller, cast.agent, cast.arbitrator):
        assert api(user).get(url).status_code == 200
    assert api(cast.stranger_seller).get(url).status_code == 404
    assert api(cast.buyer).get(url).status_code == 404
    assert api(cast.agent).get("/api/v1/shops/999999/record/").status_code == 404
    assert api(None).get(url).status_code in (401, 403)
    assert api(cast.agent).get(url + "?year=soon").status_code == 400


def test_record_shape_points_and_sanctions(cast, api):
    with time_machine.travel(T0, tick=False):
        issue(cast.shop, "r_p06", points=12)
        issue(cast.shop, "r_p07", points=2)
        revoked = issue(cast.shop, "r_p07", points=30)
        services.penalty_revoke(penalty=revoked, actor=cast.arbitrator, reason="撤销")
        issue(cast.stranger_shop, "r_p06", points=40)
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        body = api(cast.seller).get(f"/api/v1/shops/{cast.shop.pk}/record/").json()
    assert set(body) >= {"year", "points", "sanctions", "metrics"}
    assert body["year"] == 2026
    assert body["points"] == {"A": 12, "B": 2}  # the revoked 30 gave its points back (R-P12)
    assert body["sanctions"] == [
        {
            "kind": "warning_search_demotion",
            "starts_at": T0.isoformat(),
            "ends_at": (T0 + dt.timedelta(days=7)).isoformat(),
            "point_class": "A",
            "threshold": 12,
            "year": 2026,
            "status": "active",
        }
    ]
    assert body["metrics"]["window_days"] == 30


# --- §9 service metrics ------------------------------------------------------------------------------


def _refund(order, *, created_at, status="refunded"):
    return Refund.objects.create(
        order=order,
        shop=order.shop,
        buyer=order.buyer,
        created_by=order.buyer,
        kind="refund_only",
        reason="quality_issue",
        stage="received",
        amount=Decimal("10.00"),
        status=status,
        created_at=created_at,
    )


def _paid(shop, at, buyer):
    return OrderFactory(shop=shop, buyer=buyer, status="paid", paid_at=at, created_at=at)


def _timeout(refund, *, rule, fired_at, by="sweep"):
    Deadline.objects.create(
        subject_kind="refund",
        subject_id=refund.pk,
        rule=rule,
        kind=rule.lower(),
        status="fired",
        started_at=fired_at - dt.timedelta(days=5),
        due_at=fired_at,
        duration_amount=5,
        duration_unit="days",
        fired_at=fired_at,
        fired_by=by,
    )


def test_metrics_over_30_days_compared_with_the_category(cast, api):
    now = T0
    since = now - dt.timedelta(days=30)
    shop = cast.shop
    shop.category = "apparel"
    shop.save()
    peer = ShopFactory(category="apparel")
    ShopFactory(category="food")  # another category: never counted
    buyer = cast.buyer

    # Orders paid in the window: the shop's 4 (one second inside the edge), the peer's 4; one just outside.
    orders = [_paid(shop, since + SECOND, buyer)] + [_paid(shop, now - dt.timedelta(days=d), buyer) for d in (1, 2, 3)]
    _paid(shop, since - SECOND, buyer)
    for d in (1, 2, 3, 4):
        _paid(peer, now - dt.timedelta(days=d), buyer)

    # Refunds: one ruled against the seller in the window, one against the buyer, one ruled too long ago.
    refunds = [_refund(o, created_at=now - dt.timedelta(days=2)) for o in orders[:3]]
    for refund, responsibility, ruled_at in (
        (refunds[0], "seller", now - dt.timedelta(days=1)),
        (refunds[1], "buyer", now - dt.timedelta(days=1)),
        (refunds[2], "seller", since - SECOND),
    ):
        Case.objects.create(
            kind="refund",
            refund=refund,
            order=refund.order,
            shop=shop,
            buyer=buyer,
            status="ruled",
            responsibility=responsibility,
            outcome="buyer_wins",
            ruled_at=ruled_at,
            opened_at=ruled_at - dt.timedelta(hours=1),
        )

    # Complaints filed in the window: one upheld, one pending; a seller's own claim does not count.
    for status, complainant in (("upheld", "buyer"), ("in_arbitration", "buyer"), ("upheld", "seller")):
        Complaint.objects.create(
            order=orders[3],
            shop=shop,
            buyer=buyer,
            created_by=buyer,
            complainant=complainant,
            type="late_shipment" if complainant == "buyer" else "malicious_review",
            status=status,
            created_at=now - dt.timedelta(days=1),
        )

    # Refund timeouts: R-T04 swept in the window counts; an event-fired one, a buyer's clock, an old one don't.
    _timeout(refunds[0], rule="R-T04", fired_at=now - dt.timedelta(days=1))
    _timeout(refunds[1], rule="R-T06", fired_at=since + SECOND)
    _timeout(refunds[1], rule="R-T04", fired_at=now - dt.timedelta(days=1), by="refund.approve")
    _timeout(refunds[2], rule="R-T05", fired_at=now - dt.timedelta(days=1))
    _timeout(refunds[2], rule="R-T03", fired_at=since - SECOND)

    # Response: the seller's first event on each refund, 1 h, 2 h and 3 h after filing; the buyer's don't count.
    for refund, hours in zip(refunds, (1, 2, 3), strict=True):
        Event.objects.create(
            at=refund.created_at + dt.timedelta(minutes=10),
            actor=buyer,
            action="refund.modified",
            subject_kind="refund",
            subject_id=refund.pk,
        )
        for later in (0, 5):
            Event.objects.create(
                at=refund.created_at + dt.timedelta(hours=hours + later),
                actor=cast.seller,
                action="refund.approved",
                subject_kind="refund",
                subject_id=refund.pk,
            )

    with time_machine.travel(now, tick=False):
        metrics = api(cast.seller).get(f"/api/v1/shops/{shop.pk}/record/").json()["metrics"]
    assert metrics["window_days"] == 30 and metrics["category"] == "apparel" and metrics["category_shops"] == 2
    assert metrics["orders"] == 4
    assert metrics["dispute_refund_rate"] == {"shop": 0.25, "category": 0.125, "count": 1}
    assert metrics["complaint_rate"] == {"shop": 0.25, "category": 0.125, "count": 1, "filed": 2}
    assert metrics["refund_timeout_count"] == {"shop": 2, "category": 1.0}
    assert metrics["intervention_count"] == {"shop": 2, "category": 1.0}
    assert metrics["median_response_seconds"] == {"shop": 7200, "category": 7200, "count": 3}


def test_metrics_of_a_quiet_shop_are_null_not_zero_division(cast, api):
    metrics = api(cast.agent).get(f"/api/v1/shops/{cast.shop.pk}/record/").json()["metrics"]
    assert metrics["orders"] == 0
    assert metrics["dispute_refund_rate"]["shop"] is None
    assert metrics["median_response_seconds"]["shop"] is None
