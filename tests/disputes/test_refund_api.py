"""The refund endpoints of CONTRACT.md: filing rules (§3 table, R-F04, R-F05), parties, cases,
money through the ledger, freight payer (§6), express refund (R-F06), exchanges (R-F00, R-T21)."""

from decimal import Decimal

import pytest
import time_machine

from core.errors import RuleViolation
from core.models import Event, Notification
from disputes import services
from disputes.models import Case, Complaint, Deadline, Refund
from penalties.models import LedgerMovement, Penalty
from penalties.services import PLATFORM_FUND, account_buyer
from tests.disputes.helpers import DAY, HOUR, SECOND, T0, at, file_refund, make_order, sweep
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _post(client, path, body=None, when=None, **extra):
    with time_machine.travel(when or T0 + 5 * DAY, tick=False):
        return client.post(path, body or {}, format="json", **extra)


def test_buyer_files_through_the_api_and_sees_the_deadlines(cast, api):
    order = make_order(cast, "received")
    r = _post(
        api(cast.buyer),
        "/api/v1/refunds/",
        {"order": order.pk, "kind": "return_and_refund", "reason": "quality_issue", "amount": "120.00"},
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["status"] == "pending_seller" and body["amount"] == "120.00" and body["stage"] == "received"
    assert body["order"]["id"] == order.pk and body["return_freight_payer"] == "seller"
    kinds = {d["kind"]: d for d in body["deadlines"]}
    assert set(kinds) == {"r_t04_seller_answer", "r_t09_intervention_opens"}
    assert kinds["r_t04_seller_answer"]["rule"] == "R-T04" and kinds["r_t04_seller_answer"]["duration"] == "5 days"
    assert Notification.objects.filter(user=cast.seller, kind="refund.filed").count() == 1
    r = api(cast.buyer).get(f"/api/v1/refunds/{body['id']}/timeline/")
    assert [e["action"] for e in r.json()] == ["refund.filed"]


def test_the_shops_owner_and_staff_hear_of_a_filing_the_buyer_does_not(cast, api):
    staff = [UserFactory(roles=["seller"]) for _ in range(2)]
    cast.shop.staff.add(*staff)
    cast.stranger_shop.staff.add(UserFactory(roles=["seller"]))  # another shop's people hear nothing
    order = make_order(cast, "received")
    body = {"order": order.pk, "kind": "refund_only", "reason": "quality_issue", "amount": "10.00"}
    assert _post(api(cast.buyer), "/api/v1/refunds/", body).status_code == 201
    told = Notification.objects.filter(kind="refund.filed").values_list("user_id", flat=True)
    assert sorted(told) == sorted([cast.seller.pk, *(u.pk for u in staff)])


def test_the_filings_written_out_reads_build_what_the_orm_builds(cast):
    """refund_file's two reads are written out on PostgreSQL (#9): the order locked with its shop and
    the shop's staff, and the order's claiming refunds. They build the instances the ORM builds."""
    from disputes.services.refunds import _claiming_refunds, _order_for_filing
    from orders.models import Order

    cast.shop.staff.add(*[UserFactory(roles=["seller"]) for _ in range(2)])
    order = make_order(cast, "received", complete=True)
    for buyer in (None, cast.buyer):
        locked = _order_for_filing(order, buyer)
        orm = Order.objects.select_related("shop").get(pk=order.pk)
        for obj, ref in ((locked, orm), (locked.shop, orm.shop)):
            fields = type(ref)._meta.concrete_fields
            assert [(f.attname, getattr(obj, f.attname)) for f in fields] == [
                (f.attname, getattr(ref, f.attname)) for f in fields
            ]
            assert [type(getattr(obj, f.attname)) for f in fields] == [type(getattr(ref, f.attname)) for f in fields]
            assert obj._state.adding is False and obj._state.db == ref._state.db
        assert sorted(locked.shop_staff_ids) == sorted(cast.shop.staff.values_list("id", flat=True))
    with pytest.raises(RuleViolation) as err:
        _order_for_filing(order, cast.other_buyer)
    assert err.value.code == "not_the_buyer"
    with pytest.raises(Order.DoesNotExist):
        _order_for_filing(Order(pk=order.pk + 1000), None)

    first = file_refund(cast, order, at=T0 + 4 * DAY, reason="quality_issue", amount="50.00")
    at(T0 + 4 * DAY + HOUR, services.refund_approve, refund=first, actor=cast.seller)  # refunded: claims 50
    second = file_refund(cast, order, at=T0 + 5 * DAY, reason="quality_issue", amount="20.00")
    at(T0 + 5 * DAY + HOUR, services.refund_withdraw, refund=second, actor=cast.buyer)  # closed: claims nothing
    third = file_refund(cast, order, at=T0 + 6 * DAY, reason="quality_issue", amount="30.00")  # open
    read = sorted(_claiming_refunds(order), key=lambda r: r.pk)
    orm = list(
        Refund.objects.filter(order=order)
        .exclude(status__in=["closed", "exchanged"])
        .only("status", "amount", "refunded_amount")
        .order_by("pk")
    )
    assert [r.pk for r in read] == [first.pk, third.pk] == [r.pk for r in orm]
    assert [r.get_deferred_fields() for r in read] == [r.get_deferred_fields() for r in orm]  # before any is read
    columns = ("pk", "status", "amount", "refunded_amount")
    assert [[getattr(r, c) for c in columns] for r in read] == [[getattr(r, c) for c in columns] for r in orm]


def test_a_reason_that_does_not_fit_the_stage_is_a_400_naming_the_allowed_ones(cast, api):
    order = make_order(cast, "not_shipped")
    r = _post(
        api(cast.buyer),
        "/api/v1/refunds/",
        {"order": order.pk, "kind": "refund_only", "reason": "quality_issue", "amount": "10.00"},
        when=T0 + HOUR,
    )
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "reason_not_allowed" and "reason" in body
    assert body["allowed"] == ["out_of_stock", "late_shipment", "ordered_by_mistake", "no_longer_wanted"]
    assert "no_longer_wanted" in body["detail"]


def test_nothing_can_be_returned_before_it_was_shipped(cast, api):
    order = make_order(cast, "not_shipped")
    r = _post(
        api(cast.buyer),
        "/api/v1/refunds/",
        {"order": order.pk, "kind": "return_and_refund", "reason": "no_longer_wanted", "amount": "10.00"},
        when=T0 + HOUR,
    )
    assert r.status_code == 400 and r.json()["code"] == "kind_not_allowed"


@pytest.mark.parametrize(
    ("kind", "amount", "ok"),
    [
        ("refund_only", "0.00", False),
        ("refund_only", "0.01", True),
        ("refund_only", "200.00", True),
        ("refund_only", "200.01", False),
        ("exchange", "0.00", True),
        ("exchange", "5.00", False),
    ],
)
def test_r_f04_amounts(cast, api, kind, amount, ok):
    order = make_order(cast, "received")
    r = _post(
        api(cast.buyer),
        "/api/v1/refunds/",
        {"order": order.pk, "kind": kind, "reason": "quality_issue", "amount": amount},
    )
    assert (r.status_code == 201) is ok, r.json()
    if not ok:
        assert r.status_code == 400 and "amount" in r.json()


def test_r_f04_what_was_refunded_before_is_deducted(cast):
    order = make_order(cast, "received")
    first = file_refund(cast, order, at=T0 + 3 * DAY, reason="quality_issue", amount="150.00")
    at(T0 + 3 * DAY + HOUR, services.refund_approve, refund=first, actor=cast.seller)
    from core.errors import RuleViolation

    with pytest.raises(RuleViolation) as err:
        file_refund(cast, order, at=T0 + 4 * DAY, reason="missing_items", amount="50.01")
    assert err.value.data["max"] == "50.00"
    assert file_refund(cast, order, at=T0 + 4 * DAY, reason="missing_items", amount="50.00").pk


def test_r_f05_one_open_refund_per_order(cast, api):
    order = make_order(cast, "received")
    body = {"order": order.pk, "kind": "refund_only", "reason": "quality_issue", "amount": "10.00"}
    assert _post(api(cast.buyer), "/api/v1/refunds/", body).status_code == 201
    r = _post(api(cast.buyer), "/api/v1/refunds/", {**body, "reason": "damaged"})
    assert r.status_code == 409 and r.json()["code"] == "open_refund_exists"


def test_idempotency_key_on_refunds(cast, api):
    order = make_order(cast, "received")
    body = {"order": order.pk, "kind": "refund_only", "reason": "quality_issue", "amount": "10.00"}
    first = _post(api(cast.buyer), "/api/v1/refunds/", body, HTTP_IDEMPOTENCY_KEY="k1")
    again = _post(api(cast.buyer), "/api/v1/refunds/", body, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert Refund.objects.count() == 1
    changed = _post(api(cast.buyer), "/api/v1/refunds/", {**body, "amount": "11.00"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert changed.status_code == 422


def test_an_agent_files_on_a_buyers_behalf(cast, api):
    order = make_order(cast, "received")
    body = {"order": order.pk, "kind": "refund_only", "reason": "damaged", "amount": "30.00"}
    r = _post(api(cast.agent), "/api/v1/refunds/", body)
    assert r.status_code == 400 and "buyer" in r.json()
    r = _post(api(cast.agent), "/api/v1/refunds/", {**body, "buyer": cast.other_buyer.pk})
    assert r.status_code == 400 and r.json()["code"] == "not_the_buyer"
    r = _post(api(cast.agent), "/api/v1/refunds/", {**body, "buyer": cast.buyer.pk})
    assert r.status_code == 201
    refund = Refund.objects.get()
    assert refund.buyer == cast.buyer and refund.created_by == cast.agent
    assert api(cast.buyer).get(f"/api/v1/refunds/{refund.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("who", "expected"),
    [("seller", 403), ("stranger_seller", 403), ("other_buyer", 400), ("integration", 403)],
)
def test_who_may_file(cast, api, who, expected):
    order = make_order(cast, "received")
    body = {"order": order.pk, "kind": "refund_only", "reason": "damaged", "amount": "30.00"}
    if who == "other_buyer":  # another buyer's order does not exist for them
        r = _post(api(cast.other_buyer), "/api/v1/refunds/", body)
        assert r.status_code == 400 and "order" in r.json()
        return
    assert _post(api(getattr(cast, who)), "/api/v1/refunds/", body).status_code == expected


@pytest.mark.parametrize(
    ("who", "path", "expected"),
    [
        ("stranger_seller", "approve", 404),
        ("other_buyer", "withdraw", 404),
        ("buyer", "approve", 403),
        ("seller", "withdraw", 403),
        ("agent", "approve", 403),
        ("arbitrator", "withdraw", 403),
    ],
)
def test_parties_and_strangers(cast, api, who, path, expected):
    refund = file_refund(cast, make_order(cast, "received"), at=T0 + 3 * DAY, reason="damaged", amount="10.00")
    r = _post(api(getattr(cast, who)), f"/api/v1/refunds/{refund.pk}/{path}/")
    assert r.status_code == expected
    assert Refund.objects.get(pk=refund.pk).status == "pending_seller"


def test_r_f01_before_shipment_the_seller_cannot_refuse(cast, api):
    refund = file_refund(cast, make_order(cast, "not_shipped"), at=T0 + HOUR, reason="no_longer_wanted")
    r = _post(api(cast.seller), f"/api/v1/refunds/{refund.pk}/refuse/", {"reason": "不同意"}, when=T0 + 2 * HOUR)
    assert r.status_code == 409 and r.json()["code"] == "refuse_before_shipment"


def test_r_f02_no_reason_cannot_be_refused_before_completion_but_can_after(cast, api):
    open_order = make_order(cast, "received")
    refund = file_refund(cast, open_order, at=T0 + 3 * DAY, kind="return_and_refund", reason="no_reason_7d")
    r = _post(api(cast.seller), f"/api/v1/refunds/{refund.pk}/refuse/", {"reason": "不同意"}, when=T0 + 4 * DAY)
    assert r.status_code == 409 and r.json()["code"] == "no_reason_unrefusable"

    other = make_order(cast, "received", complete=True)
    refund = file_refund(cast, other, at=T0 + 4 * DAY, kind="return_and_refund", reason="no_reason_7d")
    r = _post(api(cast.seller), f"/api/v1/refunds/{refund.pk}/refuse/", {"reason": "已过售中"}, when=T0 + 5 * DAY)
    assert r.status_code == 200 and r.json()["status"] == "seller_refused"


def test_r_f03_quality_issue_refused_twice_goes_to_arbitration_by_itself(cast, api):
    refund = file_refund(cast, make_order(cast, "received", complete=True), at=T0 + 4 * DAY, reason="quality_issue")
    at(T0 + 5 * DAY, services.refund_refuse, refund=refund, actor=cast.seller, reason="无质量问题")
    at(T0 + 6 * DAY, services.refund_modify, refund=refund, actor=cast.buyer, amount=Decimal("100.00"))
    at(T0 + 7 * DAY, services.refund_refuse, refund=refund, actor=cast.seller, reason="仍然无质量问题")
    refund.refresh_from_db()
    assert refund.status == "in_arbitration" and refund.refusal_count == 2
    case = Case.objects.get(refund=refund)
    assert case.status == "open" and case.kind == "refund" and case.opened_by is None
    assert Event.objects.filter(subject_kind="refund", subject_id=refund.pk, action="refund.auto_escalated").exists()
    assert not Deadline.objects.filter(subject_kind="refund", subject_id=refund.pk, status="pending").exists()
    sla = Deadline.objects.get(subject_kind="case", subject_id=case.pk)
    assert sla.rule == "R-T12" and sla.duration_unit == "working_days" and sla.duration_amount == 5
    r = api(cast.agent).get("/api/v1/cases/")
    assert [c["id"] for c in r.json()["results"]] == [case.pk]
    assert r.json()["results"][0]["refund"] == refund.pk
    assert api(cast.agent).get(f"/api/v1/cases/{case.pk}/").json()["subject"]["id"] == refund.pk
    assert api(cast.buyer).get("/api/v1/cases/").status_code == 403
    assert Notification.objects.filter(user=cast.buyer, kind="refund.escalated").exists()


def test_a_refund_only_quality_refund_refused_once_does_not_escalate(cast):
    refund = file_refund(cast, make_order(cast, "received", complete=True), at=T0 + 4 * DAY, reason="damaged")
    at(T0 + 5 * DAY, services.refund_refuse, refund=refund, actor=cast.seller, reason="no")
    assert Refund.objects.get(pk=refund.pk).status == "seller_refused"


def test_the_seller_may_escalate_a_rejected_return_but_not_a_refusal(cast, api):
    Complaint.objects.create(
        order=make_order(cast, "received", paid_at=T0 - 30 * DAY),
        shop=cast.shop,
        buyer=cast.buyer,
        created_by=cast.buyer,
        type="misdescription",
        status="dismissed",
        ruled_at=T0,
    )
    refund = file_refund(
        cast, make_order(cast, "received"), at=T0 + 3 * DAY, kind="return_and_refund", reason="quality_issue"
    )
    at(T0 + 3 * DAY + HOUR, services.refund_approve, refund=refund, actor=cast.seller)
    at(
        T0 + 4 * DAY,
        services.refund_return_shipment,
        refund=refund,
        actor=cast.buyer,
        carrier="顺丰",
        tracking_number="1",
    )
    at(T0 + 5 * DAY, services.refund_reject_return, refund=refund, actor=cast.seller, reason="空包裹")
    r = _post(api(cast.seller), f"/api/v1/refunds/{refund.pk}/escalate/", when=T0 + 6 * DAY)
    assert r.status_code == 200 and r.json()["status"] == "in_arbitration" and r.json()["case"]


def test_r_f06_express_refund_rejected_return_goes_to_arbitration(cast):
    refund = file_refund(
        cast, make_order(cast, "received"), at=T0 + 3 * DAY, kind="return_and_refund", reason="quality_issue"
    )
    at(T0 + 3 * DAY + HOUR, services.refund_approve, refund=refund, actor=cast.seller)
    at(
        T0 + 4 * DAY,
        services.refund_return_shipment,
        refund=refund,
        actor=cast.buyer,
        carrier="顺丰",
        tracking_number="1",
    )
    refund.refresh_from_db()
    assert refund.express
    movement = LedgerMovement.objects.get(reason="refund.express_advance")
    assert (movement.debit, movement.credit, movement.amount) == (
        PLATFORM_FUND,
        account_buyer(cast.buyer),
        Decimal("200.00"),
    )
    at(T0 + 5 * DAY, services.refund_reject_return, refund=refund, actor=cast.seller, reason="调包")
    refund.refresh_from_db()
    assert refund.status == "in_arbitration" and Case.objects.filter(refund=refund).exists()


@pytest.mark.parametrize(
    ("kind", "reason", "free_shipping", "discounted", "payer"),
    [
        ("return_and_refund", "quality_issue", False, False, "seller"),
        ("return_and_refund", "wrong_item", True, False, "seller"),
        ("return_and_refund", "label_mismatch", False, False, "seller"),  # misdescription
        ("return_and_refund", "no_reason_7d", True, False, "buyer"),  # return leg only
        ("return_and_refund", "no_reason_7d", False, False, "buyer"),  # both ways
        ("return_and_refund", "no_reason_7d", True, True, "buyer"),  # discounted item
        ("exchange", "no_reason_7d", True, False, "split"),
        ("exchange", "no_reason_7d", False, False, "buyer"),
        ("exchange", "quality_issue", True, False, "seller"),
    ],
)
def test_return_freight_payer_follows_section_6(cast, api, kind, reason, free_shipping, discounted, payer):
    order = make_order(cast, "received", free_shipping=free_shipping, items=[{"discounted": discounted}])
    refund = file_refund(cast, order, at=T0 + 3 * DAY, kind=kind, reason=reason)
    body = api(cast.buyer).get(f"/api/v1/refunds/{refund.pk}/").json()
    assert body["return_freight_payer"] == payer
    assert body["return_freight_note"]


def test_r_f00_exchange_and_r_t21_replacement_deadline(cast, api):
    order = make_order(cast, "received")
    refund = file_refund(cast, order, at=T0 + 3 * DAY, kind="exchange", reason="size_mismatch")
    assert refund.amount == Decimal("0.00")
    at(T0 + 3 * DAY + HOUR, services.refund_approve, refund=refund, actor=cast.seller)
    at(
        T0 + 4 * DAY,
        services.refund_return_shipment,
        refund=refund,
        actor=cast.buyer,
        carrier="顺丰",
        tracking_number="1",
    )
    refund.refresh_from_db()
    assert not refund.express  # an exchange moves no money
    confirmed = T0 + 5 * DAY
    at(confirmed, services.refund_confirm_return, refund=refund, actor=cast.seller)
    refund.refresh_from_db()
    assert refund.status == "exchanged"
    replacement = Deadline.objects.get(subject_kind="order", subject_id=order.pk, kind="r_t21_replacement_shipment")
    assert replacement.due_at == confirmed + 72 * HOUR
    sweep(replacement.due_at - SECOND)
    assert not Penalty.objects.filter(order=order).exists()
    sweep(replacement.due_at + SECOND)
    penalty = Penalty.objects.get(order=order)
    assert penalty.code == "r_p01" and penalty.source_kind == "refund" and penalty.source_id == refund.pk
    r = _post(
        api(cast.seller),
        f"/api/v1/refunds/{refund.pk}/replacement-shipment/",
        {"carrier": "中通", "tracking_number": "ZT-R", "picked_up_at": (confirmed + 80 * HOUR).isoformat()},
        when=confirmed + 81 * HOUR,
    )
    assert r.status_code == 200
    assert Penalty.objects.filter(order=order).count() == 1  # exactly once


def test_refund_list_query_count_does_not_grow(cast, api, django_assert_max_num_queries):
    def make(n):
        for i in range(n):
            order = make_order(cast, "received", paid_at=T0 + i * SECOND)
            file_refund(cast, order, at=T0 + 3 * DAY, reason="damaged", amount="10.00")

    make(2)
    client = api(cast.agent)
    with time_machine.travel(T0 + 4 * DAY, tick=False):
        with django_assert_max_num_queries(12) as few:
            assert client.get("/api/v1/refunds/").json()["count"] == 2
        make(20)
        with django_assert_max_num_queries(len(few.captured_queries)):
            body = client.get("/api/v1/refunds/").json()
    assert body["count"] == 22 and all(r["deadlines"] for r in body["results"])


def test_refund_filters_and_scoping(cast, api):
    mine = file_refund(cast, make_order(cast, "received"), at=T0 + 3 * DAY, reason="damaged", amount="10.00")
    assert api(cast.seller).get(f"/api/v1/refunds/?shop={cast.shop.pk}").json()["count"] == 1
    assert api(cast.stranger_seller).get("/api/v1/refunds/").json()["count"] == 0
    assert api(cast.stranger_seller).get(f"/api/v1/refunds/{mine.pk}/").status_code == 404
    assert api(cast.other_buyer).get(f"/api/v1/refunds/{mine.pk}/timeline/").status_code == 404
    assert api(cast.agent).get("/api/v1/refunds/?status=refunded").json()["count"] == 0
    assert api(cast.agent).get(f"/api/v1/refunds/?order={mine.order_id}").json()["count"] == 1


def test_r_f07_the_seller_asks_for_a_true_reason_then_ships(cast, api):
    order = make_order(cast, "not_shipped")
    refund = file_refund(cast, order, at=T0 + 73 * HOUR, reason="late_shipment")
    with time_machine.travel(T0 + 74 * HOUR, tick=False):
        r = api(cast.seller).post(f"/api/v1/refunds/{refund.pk}/request-reason-change/", {"reason": "仓库有货,今天发"})
        assert r.status_code == 200 and r.json()["status"] == "pending_seller"
        assert api(cast.buyer).post(f"/api/v1/refunds/{refund.pk}/request-reason-change/", {}).status_code == 403
    assert Notification.objects.filter(user=cast.buyer, kind="refund.reason_change_requested").exists()
    other = file_refund(cast, make_order(cast, "received"), at=T0 + 3 * DAY, reason="damaged", amount="10.00")
    r = _post(api(cast.seller), f"/api/v1/refunds/{other.pk}/request-reason-change/", {"reason": "x"})
    assert r.status_code == 409 and r.json()["code"] == "reason_change_not_applicable"
