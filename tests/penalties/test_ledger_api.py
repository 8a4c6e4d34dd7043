"""GET ledger/ (CONTRACT): platform staff see every movement, a party only those of its own accounts
(a buyer's, a seller's shops' and their frozen accounts), read through the entries' account index (#9)."""

from decimal import Decimal

import pytest

from penalties.services import PLATFORM_FUND, ledger_transfer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/ledger/"


def _ids(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.data
    return [row["id"] for row in response.data["results"]]


@pytest.fixture
def movements(cast):
    """One movement per pair of accounts the parties can meet, and one no party is on."""
    shop, stranger = cast.shop, cast.stranger_shop
    pairs = {
        "compensation": (f"shop:{shop.pk}", f"buyer:{cast.buyer.pk}"),
        "buyer_pays": (f"buyer:{cast.buyer.pk}", "platform"),
        "frozen_advance": (f"frozen:shop:{shop.pk}", f"buyer:{cast.other_buyer.pk}"),
        "stranger": (f"shop:{stranger.pk}", f"buyer:{cast.other_buyer.pk}"),
        "platform": ("platform", PLATFORM_FUND),
    }
    return {
        name: ledger_transfer(debit=debit, credit=credit, amount=Decimal("12.50"), reason=f"test.{name}").pk
        for name, (debit, credit) in pairs.items()
    }


def test_each_party_sees_the_movements_of_its_own_accounts_and_staff_see_all(cast, api, movements):
    staff = set(movements.values())
    assert set(_ids(api(cast.agent))) == staff
    assert set(_ids(api(cast.arbitrator))) == staff
    m = movements
    assert _ids(api(cast.buyer)) == [m["compensation"], m["buyer_pays"]]  # debited or credited
    assert _ids(api(cast.other_buyer)) == [m["frozen_advance"], m["stranger"]]
    assert _ids(api(cast.seller)) == [m["compensation"], m["frozen_advance"]]  # the shop and its frozen account
    assert _ids(api(cast.stranger_seller)) == [m["stranger"]]
    assert _ids(api(UserFactory(roles=["buyer"]))) == []


def test_a_shops_staff_see_its_movements_once_and_filters_narrow_a_partys_own(cast, api, movements):
    member = UserFactory(roles=["seller"])
    cast.shop.staff.add(member)
    cast.stranger_shop.staff.add(member)
    m = movements
    assert _ids(api(member)) == [m["compensation"], m["frozen_advance"], m["stranger"]]
    # A filter narrows what the party may see; it never widens it.
    assert _ids(api(cast.buyer), account="platform") == [m["buyer_pays"]]
    assert _ids(api(cast.seller), account=f"shop:{cast.stranger_shop.pk}") == []
    assert _ids(api(cast.seller), shop=cast.stranger_shop.pk) == []


def test_a_partys_ledger_page_costs_the_same_queries_however_many_movements(cast, api, django_assert_num_queries):
    def transfer(n):
        for _ in range(n):
            ledger_transfer(debit=f"shop:{cast.shop.pk}", credit=f"buyer:{cast.buyer.pk}", amount=1, reason="test.n")

    transfer(2)
    client = api(cast.seller)
    _ids(client)  # the caller's roles are read once per user
    with django_assert_num_queries(3) as few:  # the seller's shops, the count, the page
        assert len(_ids(client)) == 2
    transfer(30)
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(_ids(client)) == 32


def test_a_partys_ledger_reads_its_own_entries_by_index_never_the_whole_ledger(cast, movements):
    """#9: a buyer's or a seller's page must not scan every movement (millions after a peak): the
    query finds the party's movements through `ledger_entry_account_idx`, then each by its key."""
    from django.db import connection

    from penalties.selectors import ledger_list_for

    for party in (cast.buyer, cast.seller):
        sql, params = ledger_list_for(party)[:50].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a test's table is small enough to scan
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "ledger_entry_account_idx" in plan, plan
        assert "Seq Scan" not in plan, plan
