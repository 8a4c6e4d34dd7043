"""R-T01 + R-P01 end to end, and R-T16: one second either side of every boundary, swept by the engine."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.models import Event, Notification
from disputes.engine import enforce_deadlines
from disputes.models import Deadline
from orders import services
from orders.models import Order, Shop
from penalties.models import LedgerMovement, Penalty
from penalties.services import account_balance, account_buyer, account_shop
from tests.factories import OrderFactory, ShopFactory

CHINA = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 11, 0, 5, tzinfo=CHINA)  # Double 11, just after midnight
SECOND = dt.timedelta(seconds=1)

pytestmark = pytest.mark.django_db


def _paid_order(*, kind=Shop.Kind.MARKETPLACE, amount="100.00", at=T0, items=None, **order_fields) -> Order:
    with time_machine.travel(at, tick=False):
        order = OrderFactory(shop=ShopFactory(kind=kind), total_amount=Decimal(amount), items=items, **order_fields)
        return services.order_pay(order=order, actor=None)


def _sweep_at(when: dt.datetime) -> int:
    with time_machine.travel(when, tick=False):
        return enforce_deadlines()


def _late_penalties(order: Order):
    return Penalty.objects.filter(order=order, code="r_p01")


@pytest.mark.parametrize(
    ("kind", "amount", "points", "compensation", "form", "currency"),
    [
        # marketplace: 5 % of the amount paid, min ¥1, max ¥30, cash; 3 points
        (Shop.Kind.MARKETPLACE, "100.00", 3, Decimal("5.00"), "cash", "CNY"),
        (Shop.Kind.MARKETPLACE, "10.00", 3, Decimal("1.00"), "cash", "CNY"),  # minimum ¥1
        (Shop.Kind.MARKETPLACE, "19.90", 3, Decimal("1.00"), "cash", "CNY"),  # 0.995 -> floor ¥1
        (Shop.Kind.MARKETPLACE, "2000.00", 3, Decimal("30.00"), "cash", "CNY"),  # maximum ¥30
        (Shop.Kind.MARKETPLACE, "123.45", 3, Decimal("6.17"), "cash", "CNY"),  # 6.1725 rounds half up
        # mall: 30 %, max ¥500, as platform points (100 points per yuan); no points deducted
        (Shop.Kind.MALL, "100.00", 0, Decimal("3000.00"), "points", "points"),
        (Shop.Kind.MALL, "5000.00", 0, Decimal("50000.00"), "points", "points"),  # maximum ¥500
    ],
)
def test_r_t01_72h_boundary_penalises_once(kind, amount, points, compensation, form, currency):
    order = _paid_order(kind=kind, amount=amount)
    ship_by = T0 + dt.timedelta(hours=72)
    assert order.ship_by == ship_by

    assert _sweep_at(ship_by - SECOND) == 0
    assert not _late_penalties(order).exists()

    assert _sweep_at(ship_by + SECOND) == 1
    penalty = _late_penalties(order).get()
    assert penalty.points == points
    assert penalty.point_class == "A"
    assert penalty.compensation_amount == compensation
    assert penalty.compensation_form == form
    movement = LedgerMovement.objects.get(penalty=penalty)
    assert (movement.debit, movement.credit, movement.amount, movement.currency) == (
        account_shop(order.shop),
        account_buyer(order.buyer),
        compensation,
        currency,
    )
    assert account_balance(account_buyer(order.buyer), currency) == compensation
    assert account_balance(account_shop(order.shop), currency) == -compensation
    deadline = Deadline.objects.get(subject_kind="order", subject_id=order.pk, kind="r_t01_ship")
    assert deadline.status == "fired" and deadline.fired_by == "sweep"
    assert Event.objects.filter(subject_kind="order", subject_id=order.pk, action="order.late_shipment").count() == 1
    assert Notification.objects.filter(user=order.buyer, kind="order.late_shipment").count() == 1

    # Exactly once: later sweeps and a late shipment add nothing.
    assert _sweep_at(ship_by + dt.timedelta(hours=5)) == 0
    with time_machine.travel(ship_by + dt.timedelta(hours=6), tick=False):
        services.order_ship(
            order=order, actor=order.shop.owner, carrier="中通", tracking_number="ZT1", picked_up_at=ship_by + SECOND
        )
    assert _late_penalties(order).count() == 1
    assert LedgerMovement.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("kind", [Shop.Kind.MARKETPLACE, Shop.Kind.MALL])
def test_r_t01_presale_uses_the_promised_date(kind):
    promised = T0 + dt.timedelta(days=15, hours=3)
    order = _paid_order(kind=kind, presale_ship_by=promised)
    assert order.ship_by == promised
    assert _sweep_at(T0 + dt.timedelta(hours=72, seconds=1)) == 0  # 72 h does not apply
    assert _sweep_at(promised - SECOND) == 0
    assert _sweep_at(promised + SECOND) == 1
    assert _late_penalties(order).count() == 1


@pytest.mark.parametrize("kind", [Shop.Kind.MARKETPLACE, Shop.Kind.MALL])
def test_r_t01_shop_promise_shortens_it(kind):
    with time_machine.travel(T0, tick=False):
        shop = ShopFactory(kind=kind, shipping_promise_hours=24)
        order = services.order_pay(order=OrderFactory(shop=shop), actor=None)
    assert order.ship_by == T0 + dt.timedelta(hours=24)
    deadline = Deadline.objects.get(subject_id=order.pk, kind="r_t01_ship")
    assert (deadline.duration_amount, deadline.duration_unit) == (24, "hours")
    assert _sweep_at(T0 + dt.timedelta(hours=24) - SECOND) == 0
    assert _sweep_at(T0 + dt.timedelta(hours=24) + SECOND) == 1
    assert _late_penalties(order).count() == 1


def test_r_t01_order_promise_shortens_it_but_never_lengthens():
    short = _paid_order(promised_ship_hours=48)
    assert short.ship_by == T0 + dt.timedelta(hours=48)
    with time_machine.travel(T0, tick=False):
        long_promise = services.order_pay(order=OrderFactory(shop=ShopFactory(shipping_promise_hours=96)), actor=None)
    assert long_promise.ship_by == T0 + dt.timedelta(hours=72)


@pytest.mark.parametrize("kind", [Shop.Kind.MARKETPLACE, Shop.Kind.MALL])
def test_r_t01_custom_made_is_exempt(kind):
    order = _paid_order(kind=kind, items=[{"custom_made": True, "title": "定制刻字钢笔"}])
    assert order.ship_by is None and order.ship_exempt_reason == "custom_made"
    assert not Deadline.objects.filter(subject_id=order.pk, kind="r_t01_ship").exists()
    assert _sweep_at(T0 + dt.timedelta(hours=72) + SECOND) == 0
    assert _sweep_at(T0 + dt.timedelta(days=30)) == 0
    assert not _late_penalties(order).exists()


def test_r_t01_mixed_order_is_not_exempt():
    order = _paid_order(items=[{"custom_made": True}, {"custom_made": False, "sku": "STD"}])
    assert order.ship_by == T0 + dt.timedelta(hours=72)


def test_late_ship_call_before_the_sweep_penalises_once():
    order = _paid_order()
    ship_by = order.ship_by
    with time_machine.travel(ship_by + dt.timedelta(hours=2), tick=False):
        services.order_ship(
            order=order, actor=order.shop.owner, carrier="圆通", tracking_number="YT9", picked_up_at=ship_by + SECOND
        )
    assert _late_penalties(order).count() == 1
    deadline = Deadline.objects.get(subject_id=order.pk, kind="r_t01_ship")
    assert deadline.status == "fired" and deadline.fired_by == "order.ship"
    assert _sweep_at(ship_by + dt.timedelta(hours=3)) == 0
    assert _late_penalties(order).count() == 1


def test_pick_up_in_time_entered_late_leaves_no_penalty():
    order = _paid_order()
    ship_by = order.ship_by
    # The sweep already fired (the seller typed the tracking number in too late) …
    assert _sweep_at(ship_by + SECOND) == 1
    assert _late_penalties(order).get().status == "active"
    # … but the carrier's first scan was in time: the penalty is revoked and the money goes back.
    with time_machine.travel(ship_by + dt.timedelta(hours=10), tick=False):
        services.order_ship(
            order=order, actor=order.shop.owner, carrier="顺丰", tracking_number="SF1", picked_up_at=ship_by - SECOND
        )
    penalty = _late_penalties(order).get()
    assert penalty.status == "revoked"
    assert "before ship_by" in penalty.revoke_reason
    assert account_balance(account_buyer(order.buyer)) == Decimal("0.00")
    assert account_balance(account_shop(order.shop)) == Decimal("0.00")


def test_pick_up_in_time_entered_before_the_sweep_cancels_the_clock():
    order = _paid_order()
    with time_machine.travel(order.ship_by - SECOND, tick=False):
        services.order_ship(
            order=order, actor=None, carrier="韵达", tracking_number="YD1", picked_up_at=order.ship_by - 2 * SECOND
        )
    assert Deadline.objects.get(subject_id=order.pk, kind="r_t01_ship").status == "cancelled"
    assert _sweep_at(order.ship_by + dt.timedelta(days=1)) == 0
    assert not _late_penalties(order).exists()


@pytest.mark.parametrize("kind", [Shop.Kind.MARKETPLACE, Shop.Kind.MALL])
def test_r_t16_auto_confirm_ten_days_after_pick_up(kind):
    order = _paid_order(kind=kind)
    picked = T0 + dt.timedelta(hours=30)
    with time_machine.travel(picked + dt.timedelta(hours=1), tick=False):
        services.order_ship(order=order, actor=None, carrier="中通", tracking_number="ZT2", picked_up_at=picked)
    due = picked + dt.timedelta(days=10)
    assert _sweep_at(due - SECOND) == 0
    order.refresh_from_db()
    assert order.status == "shipped"
    assert _sweep_at(due + SECOND) == 1
    order.refresh_from_db()
    assert order.status == "completed"
    assert Event.objects.filter(subject_id=order.pk, subject_kind="order", action="order.auto_confirmed").count() == 1


def test_r_t16_cancelled_when_the_buyer_confirms():
    order = _paid_order()
    picked = T0 + dt.timedelta(hours=1)
    with time_machine.travel(picked, tick=False):
        services.order_ship(order=order, actor=None, carrier="中通", tracking_number="ZT3", picked_up_at=picked)
    with time_machine.travel(picked + dt.timedelta(days=2), tick=False):
        services.order_deliver(order=order, actor=None, signed_at=picked + dt.timedelta(days=1))
        services.order_confirm_receipt(order=order, actor=order.buyer)
    assert Deadline.objects.get(subject_id=order.pk, kind="r_t16_auto_confirm").status == "cancelled"
    assert _sweep_at(picked + dt.timedelta(days=11)) == 0


def test_the_late_shipment_notice_writes_each_due_time_in_its_own_zone_however_often_it_is_asked():
    # One instant in two zones: equal as datetimes, so a text kept per datetime would answer the first
    # zone's wall time for the second (the notice keeps its texts per wall-clock time).
    shanghai = dt.datetime(2026, 11, 11, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    utc = shanghai.astimezone(dt.UTC)
    assert shanghai == utc
    bodies = [
        services.late_shipment_notice(
            order_id=7, rule="R-T01", due_local=at, points=3, amount=Decimal("5.00"), form="cash"
        )[1]
        for at in (shanghai, utc, shanghai, utc)
    ]
    assert [b.split("前")[0] for b in bodies] == ["卖家未在 2026-11-11 08:30 ", "卖家未在 2026-11-11 00:30 "] * 2


def test_the_late_shipment_notice_writes_the_minute_of_each_due_time_kept_per_minute():
    at = dt.datetime(2026, 11, 11, 8, 30, 59, 999999, tzinfo=ZoneInfo("Asia/Shanghai"))
    for due in (at, at.replace(second=0, microsecond=0), at + dt.timedelta(microseconds=1)):
        body = services.late_shipment_notice(
            order_id=7, rule="R-T01", due_local=due, points=3, amount=Decimal("5.00"), form="cash"
        )[1]
        assert body.startswith(f"卖家未在 {due:%Y-%m-%d %H:%M} 前")
