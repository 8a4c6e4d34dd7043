"""Paid orders whose ship-by clock ran out a minute ago, for the small benches (test_bench_guard) and
the bounds' checks (test_bounds)."""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.utils import timezone

from disputes.models import Deadline
from orders.models import Order, Shop


def late_orders(
    placed: Sequence[tuple[Shop, Decimal]],
    buyers: Sequence,
    *,
    rule: str = "R-T01",
    kind: str = "r_t01_ship",
    status: str = "paid",
    due_at: dt.datetime | None = None,
) -> tuple[list[Order], list[Deadline]]:
    """One order per (shop, total) in `placed` (paid, or `status`: shipped for R-T16), its buyer taken
    in turn from `buyers`, with a pending `rule` deadline due a minute ago (or at `due_at`): (orders,
    deadlines), in the same order."""
    due_at = due_at or timezone.now() - dt.timedelta(minutes=1)
    paid_at = due_at - dt.timedelta(hours=72)
    orders = Order.objects.bulk_create(
        [
            Order(
                shop=shop,
                buyer=buyers[i % len(buyers)],
                status=status,
                total_amount=total,
                paid_at=paid_at,
                ship_by=due_at,
            )
            for i, (shop, total) in enumerate(placed)
        ]
    )
    deadlines = Deadline.objects.bulk_create(
        [
            Deadline(
                subject_kind="order",
                subject_id=o.pk,
                rule=rule,
                kind=kind,
                started_at=paid_at,
                due_at=due_at,
                duration_amount=72,
                duration_unit="hours",
            )
            for o in orders
        ]
    )
    return orders, deadlines
