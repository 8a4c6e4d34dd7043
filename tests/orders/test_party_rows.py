"""Who is a party to which orders, refunds, complaints and cases (orders.selectors.party_rows): their
own as the buyer, and every shop's they sell for, read from the buyer's and the shops' indexes (#9)."""

import pytest
from django.db import connection

from disputes.selectors import case_party_list_for, complaint_list_for, refund_list_for
from orders.selectors import order_list_for
from tests.factories import OrderFactory, ShopFactory, UserFactory

pytestmark = pytest.mark.django_db


def _ids(qs):
    return sorted(qs.values_list("id", flat=True))


def test_a_party_sees_its_purchases_and_each_of_its_shops_orders_once(cast):
    bought = OrderFactory(shop=cast.stranger_shop, buyer=cast.seller)  # the seller buying elsewhere
    sold = OrderFactory(shop=cast.shop, buyer=cast.buyer)
    second_shop = ShopFactory(owner=cast.seller)
    sold_there = OrderFactory(shop=second_shop, buyer=cast.other_buyer)
    stranger_sale = OrderFactory(shop=cast.stranger_shop, buyer=cast.other_buyer)

    assert _ids(order_list_for(cast.seller)) == sorted([bought.pk, sold.pk, sold_there.pk])
    assert _ids(order_list_for(cast.buyer)) == [sold.pk]
    assert _ids(order_list_for(cast.other_buyer)) == sorted([sold_there.pk, stranger_sale.pk])
    assert _ids(order_list_for(cast.stranger_seller)) == sorted([bought.pk, stranger_sale.pk])
    # Staff of a shop they also own, and of another: each order once.
    cast.shop.staff.add(cast.seller)
    member = UserFactory(roles=["seller"])
    cast.shop.staff.add(member)
    second_shop.staff.add(member)
    assert _ids(order_list_for(cast.seller)) == sorted([bought.pk, sold.pk, sold_there.pk])
    assert _ids(order_list_for(member)) == sorted([sold.pk, sold_there.pk])
    assert _ids(order_list_for(UserFactory(roles=["buyer"]))) == []


@pytest.mark.parametrize(
    ("select", "table"),
    [
        (order_list_for, "orders_order"),
        (refund_list_for, "disputes_refund"),
        (complaint_list_for, "disputes_complaint"),
        (case_party_list_for, "disputes_case"),
    ],
)
def test_a_partys_list_reads_the_buyer_and_shop_indexes_never_the_whole_table(cast, select, table):
    """With the shops as a subquery (`buyer = … OR shop IN (SELECT …)`) PostgreSQL tested every row of
    the table: a buyer's first page of orders scanned the bench database's 1,250,000."""
    for party, shop in ((cast.buyer, None), (cast.seller, cast.shop)):
        sql, params = select(party)[:50].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a test's table is small enough to scan
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = [row[0].strip() for row in cursor.fetchall()]
        conditions = [line for line in plan if line.startswith("Index Cond:")]
        assert f"Index Cond: (buyer_id = {party.pk})" in conditions, plan
        if shop is not None:
            assert f"Index Cond: (shop_id = {shop.pk})" in conditions, plan
        assert not [line for line in plan if "SubPlan" in line or f"Seq Scan on {table}" in line], plan
