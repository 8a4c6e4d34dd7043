import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from disputes import services
from disputes.models import Case, Refund
from orders.models import Order
from tests.disputes.helpers import HOUR, T0, at, file_refund, make_order


@pytest.fixture
def browser_client():
    """`browser_client(user)`: a Django test client signed in as `user` (session, like a browser)."""

    def make(user=None):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


def refund_case(cast, *, when=T0 + 5 * dt.timedelta(days=1), amount="200.00", reason="quality_issue") -> Case:
    """A refund the seller refused and the buyer escalated: a case in the queue (through the services)."""
    order = make_order(cast, "received", complete=True, paid_at=when - 5 * dt.timedelta(days=1))
    refund = file_refund(cast, order, at=when - 2 * HOUR, reason=reason, amount=amount)
    at(when - HOUR, services.refund_refuse, refund=refund, actor=cast.seller, reason="不同意")
    at(when, services.refund_escalate, refund=refund, actor=cast.buyer)
    return Case.objects.get(refund=refund)


@pytest.fixture
def now_travel():
    """Freeze time at a moment (ticking off) for the block."""
    return lambda when: time_machine.travel(when, tick=False)


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end browser tests (Playwright + Debian chromium); run by default")


def bulk_cases(
    cast,
    n: int,
    *,
    overdue: bool = False,
    due_in: dt.timedelta = dt.timedelta(hours=5),
    step: dt.timedelta = dt.timedelta(0),
    assignee_every: int = 0,
    amount: Decimal = Decimal("9.00"),
) -> list[Case]:
    """`n` refund cases in arbitration written in bulk (the services would take minutes): what the
    pages read, not how it got there. The i-th is due at now + due_in + i × step; every
    `assignee_every`-th (from the first) is the agent's."""
    now = timezone.now()
    orders = Order.objects.bulk_create(
        Order(shop=cast.shop, buyer=cast.buyer, total_amount=amount, status="completed", paid_at=now) for _ in range(n)
    )
    refunds = Refund.objects.bulk_create(
        Refund(
            order=o,
            shop=cast.shop,
            buyer=cast.buyer,
            created_by=cast.buyer,
            kind="refund_only",
            reason="quality_issue",
            stage="received",
            amount=amount,
            status="in_arbitration",
        )
        for o in orders
    )
    return Case.objects.bulk_create(
        Case(
            kind="refund",
            refund=r,
            order=r.order,
            shop=cast.shop,
            buyer=cast.buyer,
            next_due_at=now + due_in + i * step,
            overdue=overdue,
            assignee=cast.agent if assignee_every and i % assignee_every == 0 else None,
        )
        for i, r in enumerate(refunds)
    )
