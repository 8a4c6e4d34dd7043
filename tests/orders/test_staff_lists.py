"""The staff's lists that a peak day grows by millions of rows (#9): orders, refunds, complaints,
penalties and the ledger count their rows up to CappedCountPaginator.CAP, as the case queue does, and
the first three read their first page in order from an index instead of sorting the whole table."""

from decimal import Decimal

import pytest
from django.db import connection

from core.paginators import CappedCountPaginator
from disputes import services
from disputes.selectors import complaint_list_for, refund_list_for
from orders.selectors import order_list_for
from penalties.services import ledger_transfer
from tests.disputes.helpers import DAY, HOUR, T0, at, file_refund, make_order
from tests.factories import OrderFactory
from tests.penalties.factories import issue

pytestmark = pytest.mark.django_db


def _orders(cast):
    for _ in range(3):
        OrderFactory(shop=cast.shop, buyer=cast.buyer)


def _refunds(cast):
    for n in range(3):
        file_refund(cast, make_order(cast, "not_shipped"), at=T0 + n * HOUR, reason="out_of_stock")


def _complaints(cast):
    for n in range(3):
        order = make_order(cast, "received", paid_at=T0 + n * HOUR)
        at(T0 + 3 * DAY + n * HOUR, services.complaint_file, actor=cast.buyer, order=order, type="harassment")


def _penalties(cast):
    for _ in range(3):
        issue(cast.shop, "r_p01")


def _ledger(cast):
    for _ in range(3):
        ledger_transfer(debit=f"shop:{cast.shop.pk}", credit=f"buyer:{cast.buyer.pk}", amount=Decimal(1), reason="t")


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("/api/v1/orders/", _orders),
        ("/api/v1/refunds/", _refunds),
        ("/api/v1/complaints/", _complaints),
        ("/api/v1/penalties/", _penalties),
        ("/api/v1/ledger/", _ledger),
    ],
)
def test_a_list_counts_up_to_the_cap_and_says_when_it_stopped(cast, api, monkeypatch, path, make):
    make(cast)
    for user in (cast.agent, cast.seller):
        body = api(user).get(path).json()
        assert (body["count"], body["count_capped"], len(body["results"])) == (3, False, 3), body
    monkeypatch.setattr(CappedCountPaginator, "CAP", 2)
    for user in (cast.agent, cast.seller):
        body = api(user).get(path, {"page_size": 2}).json()
        assert (body["count"], body["count_capped"], len(body["results"])) == (2, True, 2), body
        assert body["next"], "past the cap the next page is still offered"


@pytest.mark.parametrize(
    ("select", "index"),
    [
        (order_list_for, "order_created_idx"),
        (refund_list_for, "refund_created_idx"),
        (complaint_list_for, "complaint_created_idx"),
    ],
)
def test_the_staffs_first_page_is_read_in_order_from_an_index(cast, select, index):
    """Without the index, the agent's first page of orders sorted all 1,250,000 of the bench database's
    (0.9 s with the count); with it PostgreSQL reads the first fifty in order and stops."""
    sql, params = select(cast.agent)[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test's table is small enough to scan
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = [row[0].strip() for row in cursor.fetchall()]
    assert any(f"Index Scan using {index}" in line for line in plan), plan
    assert not [line for line in plan if line.lstrip("-> ").startswith("Sort")], plan
