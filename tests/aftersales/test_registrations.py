"""After-sales registration (售后登记, RULEBOOK §10): any contact, one-step filing for a buyer who phoned,
status moves, permissions, idempotency and bad input."""

from decimal import Decimal

import pytest
import time_machine

from aftersales import services
from aftersales.models import Registration
from core.errors import DomainError
from core.models import Event
from disputes.models import Complaint, Refund
from tests.disputes.helpers import DAY, HOUR, T0, make_order
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/registrations/"
NOW = T0 + 4 * DAY  # the cast's order was signed for at T0 + 2 days


def _post(client, body, **headers):
    with time_machine.travel(NOW, tick=False):
        return client.post(URL, body, format="json", **headers)


def _patch(client, registration_id, body):
    with time_machine.travel(NOW, tick=False):
        return client.patch(f"{URL}{registration_id}/", body, format="json")


def test_agent_registers_a_phone_complaint_the_buyer_then_sees_as_theirs_with_the_agent_as_creator(cast, api):
    order = make_order(cast, "received")
    response = _post(
        api(cast.agent),
        {
            "source": "phone",
            "order": order.pk,
            "buyer": cast.buyer.pk,
            "summary": "买家来电:卖家多次电话骚扰",
            "create": {"complaint": {"type": "harassment", "description": "卖家一天打了十次电话"}},
        },
    )
    assert response.status_code == 201, response.data
    body = response.data
    assert (body["source"], body["type"], body["status"]) == ("phone", "complaint", "open")
    assert body["handler"] == cast.agent.pk and body["created_by"] == cast.agent.pk
    assert body["order"] == order.pk and body["buyer"] == cast.buyer.pk and body["refund"] is None
    complaint = Complaint.objects.get(pk=body["complaint"])
    assert complaint.created_by == cast.agent and complaint.buyer == cast.buyer

    # The buyer sees it among their own complaints, created by the agent, and its timeline says so.
    buyer = api(cast.buyer)
    listed = buyer.get("/api/v1/complaints/").data["results"]
    assert [c["id"] for c in listed] == [complaint.pk]
    assert listed[0]["buyer"] == cast.buyer.pk and listed[0]["created_by"] == cast.agent.pk
    assert listed[0]["status"] == "awaiting_appeal"
    timeline = buyer.get(f"/api/v1/complaints/{complaint.pk}/timeline/").data
    assert (timeline[0]["action"], timeline[0]["actor"]) == ("complaint.filed", "agent")
    # Another buyer does not see it; the registration itself is the platform's.
    assert api(cast.other_buyer).get(f"/api/v1/complaints/{complaint.pk}/").status_code == 404
    assert buyer.get(URL).status_code == 403
    event = Event.objects.get(subject_kind="registration", subject_id=body["id"])
    assert (event.action, event.actor, event.data["complaint"]) == ("registration.created", cast.agent, complaint.pk)


def test_one_step_refund_for_a_buyer_who_phoned(cast, api):
    order = make_order(cast, "received")
    response = _post(
        api(cast.agent),
        {
            "source": "phone",
            "order": order.pk,
            "buyer": cast.buyer.pk,
            "create": {"refund": {"kind": "return_and_refund", "reason": "quality_issue", "amount": "120.50"}},
        },
    )
    assert response.status_code == 201, response.data
    refund = Refund.objects.get(pk=response.data["refund"])
    assert response.data["type"] == "return"  # follows the kind filed
    assert (refund.created_by, refund.buyer, refund.amount, refund.status) == (
        cast.agent,
        cast.buyer,
        Decimal("120.50"),
        "pending_seller",
    )
    filed = Event.objects.get(subject_kind="refund", subject_id=refund.pk, action="refund.filed")
    assert filed.actor == cast.agent and filed.data["on_behalf"] is True
    assert [r["id"] for r in api(cast.buyer).get("/api/v1/refunds/").data["results"]] == [refund.pk]


def test_filing_and_registration_are_one_transaction(cast, api, monkeypatch):
    order = make_order(cast, "received")

    def broken(**kwargs):
        raise DomainError("registration failed", code="boom")

    monkeypatch.setattr(services, "registration_create", broken)
    response = _post(
        api(cast.agent),
        {
            "source": "chat",
            "order": order.pk,
            "buyer": cast.buyer.pk,
            "create": {"refund": {"kind": "refund_only", "reason": "quality_issue", "amount": "10.00"}},
        },
    )
    assert response.status_code == 409 and response.data["code"] == "boom"
    assert not Refund.objects.exists() and not Registration.objects.exists()
    assert not Event.objects.filter(subject_kind="refund").exists()


def test_a_refused_filing_registers_nothing(cast, api):
    order = make_order(cast, "received")
    client = api(cast.agent)
    body = {
        "source": "phone",
        "order": order.pk,
        "buyer": cast.buyer.pk,
        "create": {"refund": {"kind": "refund_only", "reason": "quality_issue", "amount": "10.00"}},
    }
    assert _post(client, body).status_code == 201
    second = _post(client, body)  # R-F05: one open refund per order
    assert second.status_code == 409 and second.data["code"] == "open_refund_exists"
    assert Registration.objects.count() == 1 and Refund.objects.count() == 1
    # A rule the refund breaks is a 400 with the field named.
    other = make_order(cast, "received", paid_at=T0 + HOUR)
    bad = _post(client, {**body, "order": other.pk, "create": {"refund": {**body["create"]["refund"], "reason": "x"}}})
    assert bad.status_code == 400 and "create" in bad.data
    too_much = {"kind": "refund_only", "reason": "quality_issue", "amount": "9999.00"}
    over = _post(client, {**body, "order": other.pk, "create": {"refund": too_much}})
    assert over.status_code == 400 and "amount" in over.data
    assert Registration.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"buyer": None}, "buyer"),
        ({"order": None}, "order"),
        ({"create": {}}, "create"),
        ({"create": {"refund": None, "complaint": None}}, "create"),
        (
            {
                "create": {
                    "refund": {"kind": "refund_only", "reason": "quality_issue", "amount": "1.00"},
                    "complaint": {"type": "harassment"},
                }
            },
            "create",
        ),
        ({"create": {"complaint": {"type": "malicious_review"}}}, "create"),  # a seller's claim
        ({"create": {"complaint": {"type": "harassment"}}, "refund": 1}, "refund"),
        ({"create": "complaint"}, "create"),
        ({"create": []}, "create"),
        ({"create": {"refund": {"kind": "refund_only", "reason": "quality_issue", "amount": "abc"}}}, "create"),
        ({"create": {"refund": {"kind": "refund_only", "reason": "quality_issue", "amount": "NaN"}}}, "create"),
        ({"source": "fax"}, "source"),
        ({"order": "x"}, "order"),
        ({"order": 10**20}, "order"),
        ({"handler": "buyer"}, "handler"),
    ],
)
def test_bad_one_step_input_is_a_400_naming_the_field(cast, api, change, field):
    order = make_order(cast, "received")
    body = {
        "source": "phone",
        "order": order.pk,
        "buyer": cast.buyer.pk,
        "create": {"complaint": {"type": "harassment", "description": "骚扰"}},
        **change,
    }
    if body.get("handler") == "buyer":
        body["handler"] = cast.buyer.pk  # not an agent
    response = _post(api(cast.agent), body)
    assert response.status_code == 400, response.data
    assert response.data["code"] and response.data["detail"] and field in response.data
    assert not Complaint.objects.exists() and not Registration.objects.exists()


def test_one_step_for_the_wrong_buyer_is_refused(cast, api):
    order = make_order(cast, "received")
    response = _post(
        api(cast.agent),
        {
            "source": "phone",
            "order": order.pk,
            "buyer": cast.other_buyer.pk,
            "create": {"complaint": {"type": "harassment"}},
        },
    )
    assert response.status_code == 400 and response.data["code"] == "not_the_buyer"
    assert not Complaint.objects.exists()


def test_a_plain_registration_links_what_it_concerns(cast, api):
    order = make_order(cast, "received")
    refund = Refund.objects.create(
        order=order, shop=cast.shop, buyer=cast.buyer, created_by=cast.buyer, kind="refund_only",
        reason="quality_issue", stage="received", amount=Decimal("5.00"),
    )  # fmt: skip
    client = api(cast.agent)
    response = _post(client, {"source": "chat", "type": "refund", "refund": refund.pk, "summary": "催卖家处理"})
    assert response.status_code == 201
    assert (response.data["order"], response.data["buyer"]) == (order.pk, cast.buyer.pk)  # taken from the refund
    other = make_order(cast, "received", paid_at=T0 + HOUR)
    mismatch = _post(client, {"source": "chat", "type": "refund", "refund": refund.pk, "order": other.pk})
    assert mismatch.status_code == 400 and mismatch.data["code"] == "link_mismatch" and "refund" in mismatch.data
    # A contact about nothing in particular; by email; handled by an arbitrator.
    inquiry = _post(client, {"source": "email", "type": "inquiry", "handler": cast.arbitrator.pk})
    assert inquiry.status_code == 201 and inquiry.data["handler"] == cast.arbitrator.pk
    assert inquiry.data["order"] is None
    missing_type = _post(client, {"source": "email"})
    assert missing_type.status_code == 400 and "type" in missing_type.data


def test_status_moves_one_service_each_and_wrong_moves_are_409(cast, api):
    client = api(cast.agent)
    rid = _post(client, {"source": "web", "type": "logistics_delay"}).data["id"]

    no_result = _patch(client, rid, {"status": "resolved"})
    assert no_result.status_code == 400 and no_result.data["code"] == "result_required"
    assert Registration.objects.get(pk=rid).status == "open"

    started = _patch(client, rid, {"status": "in_progress", "summary": "已联系快递"})
    assert started.status_code == 200 and started.data["status"] == "in_progress"
    resolved = _patch(client, rid, {"status": "resolved", "result": "快递已送达,买家满意"})
    assert resolved.status_code == 200, resolved.data
    assert (resolved.data["status"], resolved.data["result"]) == ("resolved", "快递已送达,买家满意")
    assert resolved.data["resolved_at"] is not None

    back_to_open = _patch(client, rid, {"status": "open"})
    assert back_to_open.status_code == 409 and back_to_open.data["code"] == "invalid_transition"
    closed = _patch(client, rid, {"status": "closed"})
    assert closed.status_code == 409 and closed.data["status"] == "resolved"
    same = _patch(client, rid, {"status": "resolved"})  # no move: nothing happens
    assert same.status_code == 200
    reopened = _patch(client, rid, {"status": "in_progress"})
    assert reopened.status_code == 200 and reopened.data["resolved_at"] is None
    closed = _patch(client, rid, {"status": "closed", "result": "买家未再回复"})
    assert closed.status_code == 200 and closed.data["status"] == "closed"

    events = Event.objects.filter(subject_kind="registration", subject_id=rid).order_by("id")
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("registration.created", "", "open"),
        ("registration.updated", "open", "open"),
        ("registration.started", "open", "in_progress"),
        ("registration.resolved", "in_progress", "resolved"),
        ("registration.reopened", "resolved", "in_progress"),
        ("registration.closed", "in_progress", "closed"),
    ]
    assert all(e.actor == cast.agent for e in events)


def test_patch_edits_handler_type_and_links(cast, api):
    client = api(cast.agent)
    rid = _post(client, {"source": "phone", "type": "inquiry"}).data["id"]
    order = make_order(cast, "received")
    edited = _patch(client, rid, {"handler": cast.arbitrator.pk, "type": "quality", "order": order.pk})
    assert edited.status_code == 200
    assert (edited.data["handler"], edited.data["type"], edited.data["buyer"]) == (
        cast.arbitrator.pk,
        "quality",
        cast.buyer.pk,
    )
    assert _patch(client, rid, {"handler": cast.seller.pk}).status_code == 400
    assert _patch(client, rid, {"status": "done"}).status_code == 400
    assert _patch(client, rid, ["status"]).status_code == 400
    assert client.put(f"{URL}{rid}/", {"source": "web"}, format="json").status_code == 405
    assert client.delete(f"{URL}{rid}/").status_code == 405
    assert api(cast.agent).patch(f"{URL}999999/", {"type": "other"}, format="json").status_code == 404


def test_only_the_platform_registers(cast, api):
    client = api(cast.agent)
    rid = _post(client, {"source": "phone", "type": "inquiry"}).data["id"]
    for user in (cast.buyer, cast.seller, cast.integration, UserFactory(username="nobody")):
        other = api(user)
        assert other.get(URL).status_code == 403
        assert other.get(f"{URL}{rid}/").status_code == 403
        assert _post(other, {"source": "phone", "type": "inquiry"}).status_code == 403
        assert _patch(other, rid, {"status": "in_progress"}).status_code == 403
    anonymous = api()
    assert anonymous.get(URL).status_code == 401
    assert _post(anonymous, {"source": "phone", "type": "inquiry"}).status_code == 401
    assert api(cast.arbitrator).get(URL).data["count"] == 1
    assert Registration.objects.get(pk=rid).status == "open"


def test_list_filters_and_query_count(cast, api, django_assert_max_num_queries):
    client = api(cast.agent)
    for source in ("phone", "phone", "chat", "email"):
        _post(client, {"source": source, "type": "inquiry"})
    assert client.get(URL, {"source": "phone"}).data["count"] == 2
    assert client.get(URL, {"handler": cast.agent.pk, "status": "open"}).data["count"] == 4
    assert client.get(URL, {"handler": cast.arbitrator.pk}).data["count"] == 0
    for bad in ({"status": "bogus"}, {"handler": "abc"}, {"order": "-1"}, {"refund": "99999999999999999999999"}):
        response = client.get(URL, bad)
        assert response.status_code == 400 and response.data["code"] == "invalid"
    with django_assert_max_num_queries(6):
        assert len(client.get(URL).data["results"]) == 4


def test_idempotency_key_replays_the_first_registration(cast, api):
    order = make_order(cast, "received")
    client = api(cast.agent)
    body = {
        "source": "phone",
        "order": order.pk,
        "buyer": cast.buyer.pk,
        "create": {"complaint": {"type": "harassment"}},
    }
    first = _post(client, body, HTTP_IDEMPOTENCY_KEY="call-20261115-1")
    again = _post(client, body, HTTP_IDEMPOTENCY_KEY="call-20261115-1")
    assert first.status_code == again.status_code == 201
    assert again.data["id"] == first.data["id"] and again["Idempotent-Replayed"] == "true"
    assert Registration.objects.count() == 1 and Complaint.objects.count() == 1
    other = _post(client, {**body, "summary": "另一个"}, HTTP_IDEMPOTENCY_KEY="call-20261115-1")
    assert other.status_code == 422
