"""GET evidence/ at size (evidence.selectors.evidence_list_for, #9): a party's list (what they submitted
and what is on a refund, complaint or case they are a party to) reads each through its own index; the
staff's list reads its first page in order from an index; both count up to the cap."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection

from core.paginators import CappedCountPaginator
from evidence.models import Evidence
from evidence.selectors import evidence_list_for
from evidence.services import evidence_attach
from tests.evidence.factories import make_case, make_complaint, make_refund, pdf_bytes
from tests.factories import ShopFactory, UserFactory

pytestmark = pytest.mark.django_db

copy_parties = importlib.import_module("evidence.migrations.0004_evidence_parties").copy_parties


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
    """Through the refunds, complaints and cases a seller is a party to, PostgreSQL read the evidence
    whole (0.4 s for a shop's 17,600 refunds on the bench database); the dispute's shop and buyer are on
    the evidence now, each indexed, and no dispute is read at all."""
    for party, columns in (
        (cast.buyer, ("submitted_by_id", "buyer_id")),
        (cast.seller, ("submitted_by_id", "buyer_id", "shop_id")),
    ):
        sql, params = evidence_list_for(party).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a test's table is small enough to scan
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = [row[0].strip() for row in cursor.fetchall()]
        conditions = "\n".join(line for line in plan if line.startswith(("Index Cond:", "Recheck Cond:")))
        for column in columns:
            assert f"{column} = " in conditions or f"{column} = ANY" in conditions, plan
        assert not [line for line in plan if "Seq Scan on evidence_evidence" in line], plan
        assert not [line for line in plan if " on disputes_" in line], plan


def test_a_partys_first_page_is_sorted_from_its_own_rows_not_walked_from_the_staffs_index(cast):
    """Ordered by the bare columns, PostgreSQL walked the staff's index (submitted_at, id) and tested
    every row until fifty passed: on the bench database 1.2-1.5 s for a shop whose evidence is the newest."""
    for party in (cast.buyer, cast.seller):
        sql, params = evidence_list_for(party)[:50].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")  # were the walk possible, the planner would take it
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = [row[0].strip() for row in cursor.fetchall()]
        assert not [line for line in plan if "evidence_submitted_idx" in line], plan
        assert any("Bitmap Index Scan on evidence_submitter_idx" in line for line in plan), plan


def test_an_item_carries_its_disputes_shop_and_buyer_once_linked(cast, refund, post_evidence):
    def parties(pk):
        return Evidence.objects.values_list("shop_id", "buyer_id").get(pk=pk)

    on_refund = post_evidence(cast.seller, pdf_bytes(), kind="other", refund=refund.pk).json()["id"]
    assert parties(on_refund) == (cast.shop.pk, cast.buyer.pk)
    case = make_case(refund)
    on_case = post_evidence(cast.agent, pdf_bytes(), kind="other", case=case.pk).json()["id"]
    assert parties(on_case) == (cast.shop.pk, cast.buyer.pk)

    loose = post_evidence(cast.buyer, pdf_bytes(), kind="other").json()["id"]
    assert parties(loose) == (None, None)
    complaint = make_complaint(buyer=cast.buyer, shop=cast.shop)
    evidence_attach(evidence=Evidence.objects.get(pk=loose), subject=complaint, actor=cast.buyer)
    assert parties(loose) == (cast.shop.pk, cast.buyer.pk)
    assert loose in _ids_of(evidence_list_for(cast.seller))


def test_the_migration_copies_the_parties_of_items_linked_before_it(cast, refund, post_evidence):
    complaint = make_complaint(buyer=cast.buyer, shop=cast.shop)
    ids = [
        post_evidence(cast.buyer, pdf_bytes(), kind="other", refund=refund.pk).json()["id"],
        post_evidence(cast.buyer, pdf_bytes(), kind="other", complaint=complaint.pk).json()["id"],
        post_evidence(cast.agent, pdf_bytes(), kind="other", case=make_case(refund).pk).json()["id"],
        post_evidence(cast.seller, pdf_bytes(), kind="other").json()["id"],  # linked to nothing
    ]
    Evidence.objects.update(shop=None, buyer=None)  # as the rows were before 0004
    assert _ids_of(evidence_list_for(cast.seller)) == [ids[3]]
    copy_parties(django_apps, None)
    rows = Evidence.objects.filter(pk__in=ids).order_by("pk").values_list("shop_id", "buyer_id")
    assert list(rows) == [(cast.shop.pk, cast.buyer.pk)] * 3 + [(None, None)]
    assert _ids_of(evidence_list_for(cast.seller)) == sorted(ids)


def _ids_of(qs):
    return sorted(qs.values_list("pk", flat=True))


def test_the_evidence_list_counts_up_to_the_cap_and_says_when_it_stopped(api, cast, refund, post_evidence, monkeypatch):
    for _ in range(3):
        assert post_evidence(cast.buyer, pdf_bytes(), kind="other", refund=refund.pk).status_code == 201
    for user in (cast.agent, cast.buyer):
        body = api(user).get("/api/v1/evidence/").json()
        assert (body["count"], body["count_capped"], len(body["results"])) == (3, False, 3), body
    monkeypatch.setattr(CappedCountPaginator, "CAP", 2)
    for user in (cast.agent, cast.buyer):
        body = api(user).get("/api/v1/evidence/", {"page_size": 2}).json()
        assert (body["count"], body["count_capped"], len(body["results"])) == (2, True, 2), body
        assert body["next"], "past the cap the next page is still offered"


def test_the_staffs_first_page_of_evidence_is_read_in_order_from_an_index(cast):
    """Without the index, an agent's first page sorted every piece of evidence (165-254 ms on 410,624
    of them, with the count); with it PostgreSQL reads the first fifty in order and stops."""
    sql, params = evidence_list_for(cast.agent)[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        # A test's table is small enough to scan, and to sort: on the bench database's the planner read
        # the index without being told (RUN101-E, PERFORMANCE.md). Without the index it must sort.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = [row[0].strip() for row in cursor.fetchall()]
    assert any("Index Scan using evidence_submitted_idx" in line for line in plan), plan
    assert not [line for line in plan if line.lstrip("-> ").startswith("Sort")], plan
