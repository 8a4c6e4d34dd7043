"""Builders for refund tests: orders at each stage, made through the real services at given times."""

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

import time_machine
from django.db import connection, transaction

from disputes import services as refunds
from disputes.engine import enforce_deadlines
from orders import services as orders
from tests.factories import OrderFactory

CHINA = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 11, 10, 0, tzinfo=CHINA)
SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def make_order(
    cast,
    stage: str,
    *,
    paid_at: dt.datetime = T0,
    amount: str = "200.00",
    free_shipping: bool = False,
    items=None,
    complete: bool = False,
):
    """An order of the cast's buyer at the shop: `not_shipped` (paid), `shipped`, `received` (signed),
    or completed with complete=True. Shipped 1 day after payment, signed 2 days after, completed 3."""
    with time_machine.travel(paid_at, tick=False):
        order = OrderFactory(
            shop=cast.shop, buyer=cast.buyer, total_amount=Decimal(amount), free_shipping=free_shipping, items=items
        )
        orders.order_pay(order=order, actor=cast.integration)
    if stage == "not_shipped":
        return order
    shipped_at = paid_at + DAY
    with time_machine.travel(shipped_at, tick=False):
        orders.order_ship(
            order=order, actor=cast.seller, carrier="中通", tracking_number="ZT1", picked_up_at=shipped_at
        )
    if stage == "shipped":
        order.refresh_from_db()
        return order
    with time_machine.travel(paid_at + 2 * DAY, tick=False):
        orders.order_deliver(order=order, actor=cast.integration, signed_at=paid_at + 2 * DAY)
    if complete:
        with time_machine.travel(paid_at + 3 * DAY, tick=False):
            orders.order_confirm_receipt(order=order, actor=cast.buyer)
    order.refresh_from_db()
    return order


def file_refund(cast, order, *, at, kind="refund_only", reason=None, amount=None):
    reason = reason or {"paid": "out_of_stock", "shipped": "not_delivered"}.get(order.status, "quality_issue")
    with time_machine.travel(at, tick=False):
        return refunds.refund_file(
            actor=cast.buyer,
            order=order,
            kind=kind,
            reason=reason,
            amount=Decimal("0.00") if kind == "exchange" else Decimal(amount or order.total_amount),
        )


def sweep(at) -> int:
    with time_machine.travel(at, tick=False):
        return enforce_deadlines()


def at(when, fn, **kwargs):
    with time_machine.travel(when, tick=False):
        return fn(**kwargs)


class Holder:
    """Another transaction, on its own connection, holding the rows `lock()` locks until the block ends
    (an arbitrator's penalty holding its shop, a seller's request holding its order, another sweeper)."""

    def __init__(self, lock: Callable[[], object]):
        self.lock, self.locked, self.release = lock, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self):
        try:
            with transaction.atomic():
                self.lock()
                self.locked.set()
                self.release.wait(30)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(30)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(30)


def lock_waited(holder: Holder) -> bool:
    """Whether some backend of this database comes to wait for a row lock within about 30 s (while
    `holder` holds what it waits for)."""
    for _ in range(600):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return True
        holder.locked.wait(0.05)
    return False
