"""Helpers for the penalties tests: a paid-for order to be the penalty's source, and short issue calls."""

from decimal import Decimal

from orders.models import Order, Shop
from penalties import services
from penalties.models import Penalty
from tests.factories import OrderFactory, UserFactory


def source_order(shop: Shop, *, amount: str = "100.00", buyer=None, sku: str = "TSHIRT-M") -> Order:
    """An order of `shop` to name as a penalty's source (its status does not matter to penalties)."""
    return OrderFactory(
        shop=shop,
        buyer=buyer or UserFactory(roles=["buyer"]),
        total_amount=Decimal(amount),
        items=[{"sku": sku}],
    )


def issue(shop: Shop, code: str, *, actor=None, points: int | None = None, order: Order | None = None) -> Penalty:
    """A plain penalty (R-P01, R-P02, R-P06, R-P07) on a fresh order of `shop`, no compensation."""
    order = order or source_order(shop)
    return services.penalty_issue(shop=shop, code=code, source=order, order=order, actor=actor, points=points)
