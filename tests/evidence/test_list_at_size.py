"""GET evidence/ for a party (evidence.selectors.evidence_list_for): what they submitted and what is on
a refund, complaint or case they are a party to, each read through its own index (#9)."""

import pytest
from django.db import connection

from evidence.selectors import evidence_list_for
from tests.evidence.factories import make_case, make_complaint, make_refund, pdf_bytes
from tests.factories import ShopFactory, UserFactory

pytestmark = pytest.mark.django_db


def _ids(api, user):
    body = api(user).get("/api/v1/evidence/").json()
    return sorted(row["id"] for row in body["results"])


def test_a_party_lists_its_own_evidence_and_its_disputes_each_once(api, cast, refund, post_evidence):
    def post(user, **subject):
        return post_evidence(user, pdf_bytes(), kind="other", **subject).json()["id"]

    on_refund = post(cast.buyer, refund=refund.pk)
    case = make_case(refund)
    on_case = post(cast.agent, case=case.pk)  # submitted by the platform, on the parties' case
    complaint = make_complaint(buyer=cast.buyer, shop=cast.shop)
    on_complaint = post(cast.seller, complaint=complaint.pk)
    elsewhere = make_refund(buyer=cast.other_buyer, shop=cast.stranger_shop)
    stranger_own = post(cast.other_buyer, refund=elsewhere.pk)

    assert _ids(api, cast.buyer) == sorted([on_refund, on_case, on_complaint])
    assert _ids(api, cast.seller) == sorted([on_refund, on_case, on_complaint])
    assert _ids(api, cast.other_buyer) == [stranger_own]
    assert _ids(api, cast.stranger_seller) == [stranger_own]
    # A seller of both shops (staff of one, owner of the other) sees both sides, each piece once.
    both = UserFactory(roles=["seller"])
    cast.shop.staff.add(both)
    cast.stranger_shop.staff.add(both)
    ShopFactory(owner=both)
    assert _ids(api, both) == sorted([on_refund, on_case, on_complaint, stranger_own])
    assert _ids(api, UserFactory(roles=["buyer"])) == []


def test_a_partys_evidence_is_read_by_index_never_by_scanning_it_all(cast):
    """With one OR across the refund, complaint and case joined, PostgreSQL tested every piece of
    evidence against all three; now each way of being a party is its own indexed read."""
    for party in (cast.buyer, cast.seller):
        sql, params = evidence_list_for(party).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a test's table is small enough to scan
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = [row[0].strip() for row in cursor.fetchall()]
        conditions = "\n".join(line for line in plan if line.startswith(("Index Cond:", "Recheck Cond:")))
        for column in ("submitted_by_id", "refund_id", "complaint_id", "case_id"):
            assert f"{column} = " in conditions or f"{column} = ANY" in conditions, plan
        assert not [line for line in plan if "Seq Scan on evidence_evidence" in line], plan
