"""Complaints (RULEBOOK §4): the R-C01 flow, R-T10 / R-T11 one second either side, R-C02 rule-type
complaints, the windows (R-T15, R-T18, R-T22) and the R-C05 official-letter defence."""

import pytest
import time_machine

from core.errors import DomainError, RuleViolation
from core.models import Notification
from disputes import services
from disputes.models import Case, Complaint, Deadline
from evidence.models import Evidence
from penalties.models import Penalty
from tests.disputes.helpers import DAY, HOUR, SECOND, T0, at, make_order, sweep
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _file(cast, order, *, when, type="breach_of_promise", actor=None, **extra):
    if type == "breach_of_promise":
        extra.setdefault("promise_kind", "invoice")
    return at(when, services.complaint_file, actor=actor or cast.buyer, order=order, type=type, **extra)


def _status(obj) -> str:
    obj.refresh_from_db()
    return obj.status


def test_r_t10_no_appeal_in_24h_upholds_and_penalises(cast, api):
    order = make_order(cast, "received")
    filed = T0 + 3 * DAY
    complaint = _file(cast, order, when=filed)
    assert Notification.objects.filter(user=cast.seller, kind="complaint.filed").exists()
    sweep(filed + 24 * HOUR - SECOND)
    assert _status(complaint) == "awaiting_appeal"
    sweep(filed + 24 * HOUR + SECOND)
    assert _status(complaint) == "upheld"
    penalty = Penalty.objects.get(source_kind="complaint", source_id=complaint.pk)
    assert (penalty.code, penalty.points) == ("r_p03", 6)
    assert penalty.obligation.kind == "invoice"  # R-P03: the seller must still issue the invoice
    body = api(cast.buyer).get(f"/api/v1/complaints/{complaint.pk}/").json()
    assert body["status"] == "upheld" and body["deadlines"][0]["status"] == "fired"


def test_an_appeal_in_time_stops_r_t10_and_r_t11_sends_it_to_arbitration(cast):
    order = make_order(cast, "received")
    filed = T0 + 3 * DAY
    complaint = _file(cast, order, when=filed, type="harassment")
    appealed = filed + 24 * HOUR - SECOND
    at(appealed, services.complaint_appeal, complaint=complaint, actor=cast.seller, statement="我们没有骚扰买家")
    assert _status(complaint) == "awaiting_rebuttal"
    sweep(appealed + 72 * HOUR - SECOND)
    assert _status(complaint) == "awaiting_rebuttal"
    assert not Penalty.objects.exists()
    sweep(appealed + 72 * HOUR + SECOND)
    assert _status(complaint) == "in_arbitration"
    case = Case.objects.get(complaint=complaint)
    assert case.status == "open" and case.kind == "complaint"


def test_a_rebuttal_sends_it_to_arbitration_at_once(cast, api):
    complaint = _file(cast, make_order(cast, "received"), when=T0 + 3 * DAY, type="leak_info")
    at(T0 + 3 * DAY + HOUR, services.complaint_appeal, complaint=complaint, actor=cast.seller, statement="无")
    with time_machine.travel(T0 + 3 * DAY + 2 * HOUR, tick=False):
        r = api(cast.buyer).post(
            f"/api/v1/complaints/{complaint.pk}/rebut/", {"statement": "有聊天记录"}, format="json"
        )
    assert r.status_code == 200 and r.json()["status"] == "in_arbitration" and r.json()["case"]
    assert not Deadline.objects.filter(subject_kind="complaint", subject_id=complaint.pk, status="pending").exists()


def test_only_the_accused_appeals_and_only_the_complainant_rebuts_or_withdraws(cast, api):
    complaint = _file(cast, make_order(cast, "received"), when=T0 + 3 * DAY)
    with time_machine.travel(T0 + 3 * DAY + HOUR, tick=False):
        assert api(cast.buyer).post(f"/api/v1/complaints/{complaint.pk}/appeal/", {"statement": "x"}).status_code == 403
        assert (
            api(cast.stranger_seller).post(f"/api/v1/complaints/{complaint.pk}/appeal/", {"statement": "x"}).status_code
            == 404
        )
        assert api(cast.seller).post(f"/api/v1/complaints/{complaint.pk}/withdraw/").status_code == 403
        r = api(cast.buyer).post(f"/api/v1/complaints/{complaint.pk}/rebut/", {"statement": "x"})
        assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
        r = api(cast.buyer).post(f"/api/v1/complaints/{complaint.pk}/withdraw/")
        assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert not Deadline.objects.filter(subject_kind="complaint", subject_id=complaint.pk, status="pending").exists()


def test_r_c02_rule_type_is_queued_at_once_one_per_order_never_refiled(cast, api):
    order = make_order(cast, "received", items=[{"sku": "DRESS-01"}])
    with time_machine.travel(T0 + 3 * DAY, tick=False):
        r = api(cast.buyer).post(
            "/api/v1/complaints/",
            {"order": order.pk, "type": "misdescription", "severity": "affects_use", "description": "色差严重"},
            format="json",
        )
    assert r.status_code == 201, r.json()
    complaint = Complaint.objects.get(pk=r.json()["id"])
    assert complaint.status == "awaiting_appeal" and complaint.sku == "DRESS-01"
    assert Case.objects.filter(complaint=complaint, status="open").exists()  # queued with no negotiation
    # The 24 h appeal window still runs.
    assert Deadline.objects.filter(subject_kind="complaint", subject_id=complaint.pk, kind="r_t10_appeal").exists()
    with pytest.raises(DomainError) as err:
        _file(cast, order, when=T0 + 3 * DAY + HOUR, type="counterfeit")
    assert err.value.code == "rule_complaint_exists"
    at(T0 + 3 * DAY + 2 * HOUR, services.complaint_withdraw, complaint=complaint, actor=cast.buyer)
    assert Case.objects.get(complaint=complaint).outcome == "withdrawn"
    with pytest.raises(DomainError):
        _file(cast, order, when=T0 + 3 * DAY + 3 * HOUR, type="misdescription", severity="minor")


def test_r_t10_on_a_queued_rule_type_complaint_rules_the_case(cast):
    order = make_order(cast, "received", items=[{"sku": "FAKE-BAG"}])
    filed = T0 + 3 * DAY
    complaint = _file(cast, order, when=filed, type="counterfeit")
    sweep(filed + 24 * HOUR + SECOND)
    assert _status(complaint) == "upheld"
    case = Case.objects.get(complaint=complaint)
    assert case.status == "ruled" and case.outcome == "buyer_wins" and case.ruled_by is None
    penalty = Penalty.objects.get(source_id=complaint.pk, source_kind="complaint")
    assert (penalty.code, penalty.points, penalty.point_class) == ("r_p05", 48, "B")


def test_misdescription_needs_a_severity(cast):
    with pytest.raises(RuleViolation) as err:
        _file(cast, make_order(cast, "received"), when=T0 + 3 * DAY, type="misdescription")
    assert err.value.code == "severity_required"


def test_r_t15_complaints_close_15_days_after_completion(cast):
    order = make_order(cast, "received", complete=True)
    with pytest.raises(RuleViolation) as err:
        _file(cast, order, when=order.completed_at + 15 * DAY + SECOND)
    assert err.value.code == "after_sales_window_closed"
    assert _file(cast, order, when=order.completed_at + 15 * DAY - SECOND).pk


def test_r_t18_unpaid_orders_take_only_breach_of_promise_within_15_days(cast):
    with time_machine.travel(T0, tick=False):
        order = OrderFactory(shop=cast.shop, buyer=cast.buyer)
    with pytest.raises(RuleViolation) as err:
        _file(cast, order, when=T0 + DAY, type="harassment")
    assert err.value.code == "order_not_paid"
    with pytest.raises(RuleViolation) as err:
        _file(cast, order, when=T0 + 15 * DAY + SECOND, promise_kind="alipay")
    assert err.value.code == "complaint_window_closed"
    assert _file(cast, order, when=T0 + 15 * DAY - SECOND, promise_kind="alipay").status == "awaiting_appeal"


def test_r_c05_an_official_letter_is_recorded_as_the_late_shipment_defence(cast, api):
    order = make_order(cast, "not_shipped")
    complaint = _file(cast, order, when=T0 + 80 * HOUR, type="late_shipment")
    letter = Evidence.objects.create(
        file="evidence/2026/11/letter.pdf",
        kind="official_letter",
        content_type="application/pdf",
        size=10,
        sha256="0" * 64,
        complaint=complaint,
        submitted_by=cast.seller,
        side="seller",
    )
    at(
        T0 + 81 * HOUR,
        services.complaint_appeal,
        complaint=complaint,
        actor=cast.seller,
        statement="快递停发公函",
        evidence=[letter.pk],
    )
    complaint.refresh_from_db()
    assert complaint.defence == "official_letter" and complaint.defence_evidence == [letter.pk]


def test_seller_claim_swaps_the_roles_within_r_t22(cast, api):
    order = make_order(cast, "received", complete=True)
    completed = order.completed_at
    with time_machine.travel(completed + 15 * DAY + SECOND, tick=False):
        r = api(cast.seller).post(
            "/api/v1/complaints/",
            {"order": order.pk, "type": "malicious_review", "description": "差评勒索"},
            format="json",
        )
    assert r.status_code == 400 and r.json()["code"] == "claim_window_closed"
    with time_machine.travel(completed + 15 * DAY - SECOND, tick=False):
        r = api(cast.seller).post(
            "/api/v1/complaints/",
            {"order": order.pk, "type": "malicious_review", "description": "差评勒索"},
            format="json",
        )
        assert r.status_code == 201 and r.json()["complainant"] == "seller"
        assert api(cast.buyer).post("/api/v1/complaints/", {"order": order.pk, "type": "extortion"}).status_code == 403
    complaint = Complaint.objects.get(pk=r.json()["id"])
    # The buyer is the accused: the buyer appeals, the seller rebuts.
    assert Notification.objects.filter(user=cast.buyer, kind="complaint.filed").exists()
    at(completed + 15 * DAY, services.complaint_appeal, complaint=complaint, actor=cast.buyer, statement="如实评价")
    assert _status(complaint) == "awaiting_rebuttal"
    with pytest.raises(DomainError):
        at(completed + 15 * DAY + HOUR, services.complaint_rebut, complaint=complaint, actor=cast.buyer, statement="x")
    at(
        completed + 15 * DAY + HOUR,
        services.complaint_rebut,
        complaint=complaint,
        actor=cast.seller,
        statement="有证据",
    )
    assert _status(complaint) == "in_arbitration"


def test_complaint_list_scoping_and_filters(cast, api):
    complaint = _file(cast, make_order(cast, "received"), when=T0 + 3 * DAY)
    assert api(cast.seller).get("/api/v1/complaints/?type=breach_of_promise").json()["count"] == 1
    assert api(cast.stranger_seller).get("/api/v1/complaints/").json()["count"] == 0
    assert api(cast.other_buyer).get(f"/api/v1/complaints/{complaint.pk}/").status_code == 404
    assert api(cast.agent).get("/api/v1/complaints/?status=upheld").json()["count"] == 0
    timeline = api(cast.buyer).get(f"/api/v1/complaints/{complaint.pk}/timeline/").json()
    assert [e["action"] for e in timeline] == ["complaint.filed"]


def test_an_agent_files_a_complaint_for_a_buyer(cast, api):
    order = make_order(cast, "received")
    with time_machine.travel(T0 + 3 * DAY, tick=False):
        r = api(cast.agent).post(
            "/api/v1/complaints/",
            {"order": order.pk, "type": "harassment", "buyer": cast.buyer.pk, "description": "电话骚扰"},
            format="json",
        )
    assert r.status_code == 201
    complaint = Complaint.objects.get(pk=r.json()["id"])
    assert complaint.buyer == cast.buyer and complaint.created_by == cast.agent
    assert api(cast.buyer).get(f"/api/v1/complaints/{complaint.pk}/").status_code == 200


def test_not_received_is_only_for_completed_orders(cast):
    with pytest.raises(RuleViolation):
        _file(cast, make_order(cast, "received"), when=T0 + 3 * DAY, type="not_received")
    order = make_order(cast, "received", complete=True)
    assert _file(cast, order, when=T0 + 4 * DAY, type="not_received").pk
