"""bench.lists: which tables a list's plan reads whole, and a list measured on the test database."""

import pytest

from bench.lists import measure, whole_scans
from tests.factories import OrderFactory

PLAN = [
    "Limit  (cost=1.00..2.00 rows=50 width=8)",
    "  ->  Sort  (cost=1.00..2.00 rows=50 width=8)",
    "        ->  Seq Scan on orders_order  (cost=0.00..1.00 rows=50 width=8)",
    "        ->  Seq Scan on orders_shop  (cost=0.00..1.00 rows=5 width=8)",
    "        ->  Index Scan using refund_created_idx on disputes_refund  (cost=0.29..8.30 rows=1 width=8)",
]


def test_only_the_large_tables_read_whole_are_named():
    sizes = {"orders_order": 1_250_000.0, "disputes_refund": 830_000.0}
    assert whole_scans(PLAN, sizes) == {"orders_order"}  # the shops are small; the refunds read by index
    assert whole_scans(PLAN, {}) == set()


@pytest.mark.django_db
def test_a_list_is_measured_explained_and_nothing_it_wrote_stays(cast):
    OrderFactory(shop=cast.shop, buyer=cast.buyer)
    # Every table counts as large here: a test's few rows are read whole, so the plan must name them.
    got = measure(cast.agent, "orders/", n=2, sizes={"orders_order": 0.0, "disputes_refund": 0.0})
    assert got["status"] == 200 and got["statements"] >= 2
    low, high = got["ms"]
    assert 0 < low <= high
    assert got["scans"] == ["orders_order"]


@pytest.mark.django_db
def test_a_dashboard_page_is_measured_with_the_callers_session_and_the_session_does_not_stay(cast):
    from django.contrib.sessions.models import Session

    OrderFactory(shop=cast.shop, buyer=cast.buyer)
    got = measure(cast.agent, "/queue/", n=1, sizes={"orders_order": 0.0})
    assert got["status"] == 200 and got["statements"] >= 3  # a redirect to the login would be a 302
    assert not Session.objects.exists()
