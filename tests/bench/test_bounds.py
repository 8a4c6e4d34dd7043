"""The bounds benches 1 and 4 measure beside their targets (docs/PERFORMANCE.md) do the work they stand
for: the hand-written full R-T01 sweep (bench/reference.py) leaves, order for order, the penalty,
ledger movement and entries, events and notices the engine leaves (less the hash chain), and the
hand-written filing (bench/urls.py) writes a refund with its clocks, its event and the owner's notice,
on the caller's own order only. Without these a bound could be fast because it skipped the work."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from bench import reference
from core.models import Event, Notification
from disputes import engine
from disputes.models import Deadline, Refund
from orders.models import Order
from penalties.models import LedgerEntry, LedgerMovement, Penalty
from tests.bench.late import late_orders
from tests.factories import ShopFactory, UserFactory

TOTALS = [Decimal("88.00"), Decimal("12.34"), Decimal("999.99"), Decimal("1.00")]


def _late(shops, buyers, rule: str, kind: str) -> list[Order]:
    """One paid order per (shop, total), its `rule` deadline run out a minute ago."""
    orders, _ = late_orders([(s, t) for s in shops for t in TOTALS], buyers, rule=rule, kind=kind)
    return orders


def _left_behind(order: Order) -> dict:
    """What a firing left for `order`, without the ids and times two firings cannot share."""
    penalty = Penalty.objects.get(order=order)
    movement = LedgerMovement.objects.get(penalty=penalty)
    return {
        "shop": order.shop_id,
        "total": order.total_amount,
        "penalty": (
            penalty.code,
            penalty.points,
            penalty.point_class,
            penalty.compensation_amount,
            penalty.compensation_form,
            penalty.source_kind,
            penalty.status,
            penalty.beneficiary_id,
            penalty.shop_id,
        ),
        "note": penalty.note,
        "movement": (
            movement.debit,
            movement.credit,
            movement.amount,
            movement.currency,
            movement.reason,
            movement.shop_id,
        ),
        "entries": sorted(LedgerEntry.objects.filter(movement=movement).values_list("account", "amount", "currency")),
        "penalty_event": Event.objects.get(subject_kind="penalty", subject_id=penalty.pk).data["compensation"],
        "order_event": sorted(
            Event.objects.get(subject_kind="order", subject_id=order.pk, action="order.late_shipment").data
        ),
        "notified": sorted(
            Notification.objects.filter(
                subject_kind="order", subject_id=order.pk, kind="order.late_shipment"
            ).values_list("user_id", flat=True)
        ),
    }


@pytest.mark.django_db
def test_the_full_r_t01_action_by_hand_leaves_what_the_engine_leaves():
    buyers = [UserFactory(roles=["buyer"]) for _ in range(3)]
    shops = [ShopFactory(kind="marketplace"), ShopFactory(kind="mall")]
    shops[1].staff.add(UserFactory(roles=["seller"]))
    by_engine = _late(shops, buyers, "R-T01", "r_t01_ship")
    assert engine.enforce_deadlines(batch_size=500) == len(by_engine)

    by_hand = _late(shops, buyers, reference.RULE, "x_ref")
    with connection.cursor() as cursor:
        cursor.execute(
            reference.CLAIM_AND_FIRE_FULL, {"rule": reference.RULE, "limit": 500, **reference.full_parameters()}
        )
    fired = Deadline.objects.filter(rule=reference.RULE, status="fired")
    assert fired.count() == len(by_hand)
    assert not fired.filter(outcome="noop").exists()

    engine_rows = [_left_behind(o) for o in by_engine]
    hand_rows = [_left_behind(o) for o in by_hand]
    for row in (*engine_rows, *hand_rows):  # the ship-by text is the due time's, a minute apart at most
        row["note"] = row["note"].split(" ship_by ")[0]
    assert hand_rows == engine_rows
    # The cases that matter are there: a cap, a floor, points for the mall, staff told.
    amounts = {(r["shop"], r["total"]): r["penalty"][3] for r in engine_rows}
    assert amounts[(shops[0].pk, Decimal("999.99"))] == Decimal("30.00")
    assert amounts[(shops[0].pk, Decimal("1.00"))] == Decimal("1.00")
    assert amounts[(shops[1].pk, Decimal("88.00"))] == Decimal("2640.00")
    assert max(len(r["notified"]) for r in engine_rows) == 3


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="bench.urls")
def test_the_filing_by_hand_writes_a_refund_its_clocks_event_and_notice_on_the_callers_order_only():
    buyer, stranger = UserFactory(roles=["buyer"]), UserFactory(roles=["buyer"])
    shop = ShopFactory()
    paid_at = timezone.now() - dt.timedelta(hours=1)
    order = Order.objects.create(shop=shop, buyer=buyer, status="paid", total_amount=Decimal("99.00"), paid_at=paid_at)
    body = {"order": order.pk, "kind": "refund_only", "reason": "ordered_by_mistake", "amount": "9.90"}

    client = APIClient()
    client.force_authenticate(stranger)
    assert client.post("/bench/bare/write/", body, format="json").status_code == 404
    assert not Refund.objects.exists()

    client.force_authenticate(buyer)
    response = client.post("/bench/bare/write/", body, format="json")
    assert response.status_code == 201
    refund = Refund.objects.get(pk=response.json()["id"])
    assert (refund.order_id, refund.buyer_id, refund.shop_id, refund.amount, refund.status) == (
        order.pk,
        buyer.pk,
        shop.pk,
        Decimal("9.90"),
        "pending_seller",
    )
    clocks = Deadline.objects.filter(subject_kind="refund", subject_id=refund.pk, status="pending")
    assert sorted(clocks.values_list("rule", flat=True)) == ["R-T02", "R-T09"]
    assert Event.objects.filter(subject_kind="refund", subject_id=refund.pk, action="refund.filed").count() == 1
    assert list(
        Notification.objects.filter(subject_kind="refund", subject_id=refund.pk).values_list("user_id", flat=True)
    ) == [shop.owner_id]


@pytest.mark.django_db(transaction=True)
def test_the_full_r_t01_by_hand_leaves_a_shop_another_sweeper_holds_pending_as_the_engine_does():
    """Two hand-written sweepers fire disjoint shops side by side: a row whose shop is locked elsewhere
    is left pending for a later statement, not waited for (nor fired without its shop's lock)."""
    import psycopg2

    buyers = [UserFactory(roles=["buyer"]) for _ in range(2)]
    held, free = ShopFactory(kind="marketplace"), ShopFactory(kind="marketplace")
    orders = _late([held, free], buyers, reference.RULE, "x_ref")
    params = {"rule": reference.RULE, "limit": 500, **reference.full_parameters()}
    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432
    )
    try:
        with other.cursor() as c:
            c.execute("SELECT id FROM orders_shop WHERE id = %s FOR UPDATE", [held.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # a wait on the held shop fails the test, not hangs it
            cursor.execute(reference.CLAIM_AND_FIRE_FULL, params)
            cursor.execute(reference.STILL_DUE, {"rule": reference.RULE})
            assert cursor.fetchone()[0] is True
        fired = {o.shop_id for o in orders if Penalty.objects.filter(order=o).exists()}
        assert fired == {free.pk}
        pending = Deadline.objects.filter(rule=reference.RULE, status="pending")
        assert sorted(pending.values_list("subject_id", flat=True)) == sorted(
            o.pk for o in orders if o.shop_id == held.pk
        )
    finally:
        other.rollback()
        other.close()
    with connection.cursor() as cursor:
        cursor.execute(reference.CLAIM_AND_FIRE_FULL, params)
        cursor.execute(reference.STILL_DUE, {"rule": reference.RULE})
        assert cursor.fetchone()[0] is False
    assert Penalty.objects.filter(order__in=orders).count() == len(orders)
