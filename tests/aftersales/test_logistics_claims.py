"""Carrier claims (报损, RULEBOOK §10): reported → claimed → paid | refused, the carrier's payment in the
ledger exactly once, permissions, idempotency and bad input."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from aftersales import services
from aftersales.models import LogisticsClaim
from core.errors import InvalidTransition
from core.models import Event
from penalties.models import LedgerEntry, LedgerMovement
from penalties.services import PLATFORM_FUND, account_balance
from tests.disputes.helpers import T0, make_order
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/logistics-claims/"


def _report(client, order, headers=None, **extra):
    body = {"order": order.pk, "parcel_state": "damaged", "item": "纯棉T恤 TSHIRT-M", "price": "99.90", **extra}
    return client.post(URL, body, format="json", **(headers or {}))


def _patch(client, claim_id, body):
    return client.patch(f"{URL}{claim_id}/", body, format="json")


def test_claim_is_paid_and_the_carriers_payment_lands_in_the_ledger_once(cast, api):
    order = make_order(cast, "shipped")
    client = api(cast.agent)
    reported = _report(client, order, reported_at="2026-11-13T09:30:00+08:00", note="外箱压坏")
    assert reported.status_code == 201, reported.data
    claim = reported.data
    # Carrier and tracking number come from the order's shipment; the handler is the agent.
    assert (claim["carrier"], claim["tracking_number"], claim["status"]) == ("中通", "ZT1", "reported")
    assert (claim["handler"], claim["price"], claim["reported_at"]) == (
        cast.agent.pk,
        "99.90",
        "2026-11-13T09:30:00+08:00",
    )

    claimed = _patch(client, claim["id"], {"status": "claimed", "carrier_reference": "ZTO-CLAIM-778"})
    assert claimed.status_code == 200 and claimed.data["status"] == "claimed"
    assert claimed.data["carrier_reference"] == "ZTO-CLAIM-778" and claimed.data["claimed_at"]
    before = account_balance(PLATFORM_FUND)

    paid = _patch(client, claim["id"], {"status": "paid", "paid_amount": "80.00"})
    assert paid.status_code == 200, paid.data
    assert (paid.data["status"], paid.data["paid_amount"]) == ("paid", "80.00")
    movement = LedgerMovement.objects.get(source_kind="logisticsclaim", source_id=claim["id"])
    assert paid.data["movement"] == movement.pk
    assert (movement.debit, movement.credit, movement.amount, movement.currency, movement.reason) == (
        "carrier:中通",
        PLATFORM_FUND,
        Decimal("80.00"),
        "CNY",
        "logistics_claim.paid",
    )
    assert (movement.order_id, movement.shop_id) == (order.pk, cast.shop.pk)
    assert account_balance(PLATFORM_FUND) - before == Decimal("80.00")
    assert account_balance("carrier:中通") == Decimal("-80.00")

    # Paying again is a 409 and moves nothing.
    again = _patch(client, claim["id"], {"status": "paid", "paid_amount": "80.00"})
    assert again.status_code == 409 and again.data["code"] == "invalid_transition"
    assert _patch(client, claim["id"], {"status": "paid"}).status_code == 200  # naming it again: no move
    assert LedgerMovement.objects.filter(source_kind="logisticsclaim").count() == 1
    assert sum(e.amount for e in LedgerEntry.objects.all()) == 0
    # The ledger API shows it to agents.
    listed = client.get("/api/v1/ledger/", {"account": "carrier:中通"}).data
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["amount"] for r in rows] == ["80.00"]

    events = Event.objects.filter(subject_kind="logisticsclaim", subject_id=claim["id"]).order_by("id")
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("logistics_claim.reported", "", "reported"),
        ("logistics_claim.claimed", "reported", "claimed"),
        ("logistics_claim.paid", "claimed", "paid"),
    ]


def test_paid_defaults_to_the_price(cast, api):
    order = make_order(cast, "shipped")
    client = api(cast.agent)
    cid = _report(client, order, parcel_state="lost").data["id"]
    _patch(client, cid, {"status": "claimed"})
    paid = _patch(client, cid, {"status": "paid"})
    assert paid.status_code == 200 and paid.data["paid_amount"] == "99.90"
    assert LedgerMovement.objects.get(source_id=cid, source_kind="logisticsclaim").amount == Decimal("99.90")


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], "paid"),
        ([], "refused"),
        (["claimed", "paid"], "claimed"),
        (["claimed", "paid"], "refused"),
        (["claimed", "refused"], "paid"),
        (["claimed", "refused"], "claimed"),
        (["claimed"], "reported"),
        ([], "reported_again"),
    ],
)
def test_every_wrong_move_is_a_409_with_its_code(cast, api, path, target):
    order = make_order(cast, "shipped")
    client = api(cast.agent)
    cid = _report(client, order).data["id"]
    for step in path:
        body = {"status": step, **({"refusal_reason": "包装不合格"} if step == "refused" else {})}
        assert _patch(client, cid, body).status_code == 200
    if target == "reported_again":
        assert _patch(client, cid, {"status": "reported"}).status_code == 200  # no move: nothing happens
        return
    body = {"status": target, **({"refusal_reason": "不赔"} if target == "refused" else {})}
    response = _patch(client, cid, body)
    assert response.status_code == 409, response.data
    assert response.data["code"] == "invalid_transition" and response.data["detail"]
    assert LogisticsClaim.objects.get(pk=cid).status == (path[-1] if path else "reported")
    assert LedgerMovement.objects.filter(source_kind="logisticsclaim").count() == (1 if "paid" in path else 0)


def test_refused_needs_the_carriers_reason(cast, api):
    client = api(cast.agent)
    cid = _report(client, make_order(cast, "shipped")).data["id"]
    _patch(client, cid, {"status": "claimed"})
    assert _patch(client, cid, {"status": "refused"}).data["code"] == "reason_required"
    refused = _patch(client, cid, {"status": "refused", "refusal_reason": "超过保价期"})
    assert refused.status_code == 200 and refused.data["refusal_reason"] == "超过保价期"
    assert not LedgerMovement.objects.exists()


def test_what_was_claimed_is_fixed_once_claimed(cast, api):
    client = api(cast.agent)
    cid = _report(client, make_order(cast, "shipped")).data["id"]
    edited = _patch(client, cid, {"price": "120.00", "item": "羊毛衫", "parcel_state": "lost"})
    assert edited.status_code == 200 and (edited.data["price"], edited.data["parcel_state"]) == ("120.00", "lost")
    _patch(client, cid, {"status": "claimed"})
    locked = _patch(client, cid, {"price": "500.00"})
    assert locked.status_code == 409 and locked.data["code"] == "invalid_transition"
    assert LogisticsClaim.objects.get(pk=cid).price == Decimal("120.00")
    # Handler and note may still change.
    moved = _patch(client, cid, {"handler": cast.arbitrator.pk, "note": "转仲裁跟进"})
    assert moved.status_code == 200 and moved.data["handler"] == cast.arbitrator.pk


def test_a_payment_above_the_price_is_refused_and_nothing_moves(cast, api):
    client = api(cast.agent)
    cid = _report(client, make_order(cast, "shipped")).data["id"]
    _patch(client, cid, {"status": "claimed"})
    response = _patch(client, cid, {"status": "paid", "paid_amount": "99.91"})
    assert (
        response.status_code == 400
        and response.data["code"] == "invalid_paid_amount"
        and "paid_amount" in response.data
    )
    early = _patch(client, cid, {"status": "paid", "paid_at": "2000-01-01T00:00:00+08:00"})
    assert early.status_code == 400 and early.data["code"] == "invalid_paid_at"
    assert LogisticsClaim.objects.get(pk=cid).status == "claimed"
    assert not LedgerMovement.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"price": "abc"},
        {"price": "NaN"},
        {"price": "Infinity"},
        {"price": "0.00"},
        {"price": "-5"},
        {"price": "1.001"},
        {"price": "10000000000000"},
        {"parcel_state": "stolen"},
        {"order": 10**20},
        {"order": "一"},
        {"order": None},
        {"item": ""},
        {"carrier": "快" * 33},
        {"reported_at": "tomorrow"},
        {"reported_at": "2999-01-01T00:00:00+08:00"},
        {"handler": "buyer"},
    ],
)
def test_bad_claims_are_400s(cast, api, change):
    order = make_order(cast, "shipped")
    if change.get("handler") == "buyer":
        change = {"handler": cast.buyer.pk}
    body = {"order": order.pk, "parcel_state": "damaged", "item": "纯棉T恤", "price": "99.90", **change}
    response = api(cast.agent).post(URL, body, format="json")
    assert response.status_code == 400, response.data
    assert response.data["code"] and response.data["detail"]
    assert not LogisticsClaim.objects.exists()


def test_an_order_without_shipment_needs_carrier_and_tracking_number(cast, api):
    order = make_order(cast, "not_shipped")
    client = api(cast.agent)
    response = _report(client, order)
    assert response.status_code == 400 and "carrier" in response.data
    ok = _report(client, order, carrier="顺丰速运", tracking_number="SF100200", parcel_state="delayed")
    assert ok.status_code == 201 and ok.data["carrier"] == "顺丰速运"


def test_patch_input_is_checked(cast, api):
    client = api(cast.agent)
    cid = _report(client, make_order(cast, "shipped")).data["id"]
    for body in (
        {"paid_amount": "10.00"},  # only with status paid
        {"status": "claimed", "refusal_reason": "x"},
        {"status": "lost"},
        {"status": "paid", "paid_amount": "abc"},
        ["paid"],
    ):
        response = _patch(client, cid, body)
        assert response.status_code == 400, (body, response.data)
    assert client.put(f"{URL}{cid}/", {}, format="json").status_code == 405
    assert client.delete(f"{URL}{cid}/").status_code == 405


def test_only_the_platform_handles_claims(cast, api):
    order = make_order(cast, "shipped")
    cid = _report(api(cast.agent), order).data["id"]
    for user in (cast.buyer, cast.seller, cast.integration):
        client = api(user)
        assert client.get(URL).status_code == 403
        assert client.get(f"{URL}{cid}/").status_code == 403
        assert _report(client, order).status_code == 403
        assert _patch(client, cid, {"status": "claimed"}).status_code == 403
    assert api().get(URL).status_code == 401
    assert _patch(api(), cid, {"status": "claimed"}).status_code == 401
    arbitrator = api(cast.arbitrator)
    assert arbitrator.get(URL, {"status": "reported", "carrier": "中通"}).data["count"] == 1
    assert arbitrator.get(URL, {"status": "paid"}).data["count"] == 0
    assert arbitrator.get(URL, {"status": "gone"}).status_code == 400
    assert LogisticsClaim.objects.get(pk=cid).status == "reported"


def test_idempotency_key_on_report(cast, api):
    order = make_order(cast, "shipped")
    client = api(cast.agent)
    first = client.post(
        URL,
        {"order": order.pk, "parcel_state": "lost", "item": "T恤", "price": "10.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="baosun-1",
    )
    again = client.post(
        URL,
        {"order": order.pk, "parcel_state": "lost", "item": "T恤", "price": "10.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="baosun-1",
    )
    assert first.status_code == again.status_code == 201 and first.data["id"] == again.data["id"]
    assert LogisticsClaim.objects.count() == 1
    changed = client.post(
        URL,
        {"order": order.pk, "parcel_state": "lost", "item": "T恤", "price": "11.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="baosun-1",
    )
    assert changed.status_code == 422


@pytest.mark.django_db(transaction=True)
def test_two_agents_paying_at_once_record_one_payment(cast):
    order = OrderFactory(shop=cast.shop, buyer=cast.buyer, created_at=T0)
    claim = services.logistics_claim_report(
        actor=cast.agent,
        order=order,
        parcel_state="lost",
        item="T恤",
        price=Decimal("50.00"),
        carrier="圆通",
        tracking_number="YT9",
    )
    services.logistics_claim_submit(claim=claim, actor=cast.agent)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def pay(actor):
        try:
            barrier.wait()
            services.logistics_claim_pay(claim=claim, actor=actor)
            outcomes.append("paid")
        except InvalidTransition:
            outcomes.append("409")
        except Exception as exc:  # surfaced by the assertion below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(u,)) for u in (cast.agent, cast.arbitrator)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409", "paid"]
    assert LedgerMovement.objects.filter(source_kind="logisticsclaim", source_id=claim.pk).count() == 1
    assert account_balance("carrier:圆通") == Decimal("-50.00")
