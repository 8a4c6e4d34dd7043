import datetime as dt

import pytest
import time_machine
from django.test import Client

from disputes import services
from disputes.models import Case
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
