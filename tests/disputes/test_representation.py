"""The hand-written hot paths of issue #9 give exactly what the serializers and the paginator give:
GET cases/ (disputes/representation.py, core.api.QueuePagination.paginate_counted), every list's
deadlines, and the 201 of POST refunds/ rendered from what the service wrote."""

import datetime as dt
import json
import re
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from bench import generate
from core import api as core_api
from core.api import QueuePagination
from core.paginators import CappedCountPaginator
from core.prepared import statement_of
from disputes import case_queue, representation, services
from disputes import serializers as s
from disputes.models import Case, Deadline, Refund
from disputes.representation import deadlines_data, refund_data, text_when
from disputes.selectors import case_list_for, deadlines_attach, refund_list_for
from tests.disputes.helpers import DAY, HOUR, SECOND, T0, at, file_refund, make_order
from tests.disputes.test_cases import _complaint_case, _refund_case
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _json(data):
    return json.loads(JSONRenderer().render(data))


QUEUE_ORDER = ("-overdue", F("next_due_at").asc(nulls_last=True), "id")


def _queue(agent):
    return list(case_list_for(agent).order_by(*QUEUE_ORDER))


@pytest.fixture(params=["written_out", "orm"])
def queue_path(request, monkeypatch):
    """GET cases/ both ways: one written-out statement (disputes/case_queue.py, on PostgreSQL) and the
    ORM's two (any other database, such as the quick start's SQLite)."""
    if request.param == "orm":
        monkeypatch.setattr(case_queue, "WRITTEN_OUT_VENDORS", ())
    return request.param


def _varied_cases(cast) -> list[Case]:
    """Open, assigned, suspended (paused clocks with time left), ruled (an amount, fired and cancelled
    clocks), overdue, a complaint's case; shops and assignees with and without names."""
    cases = [_refund_case(cast, when=T0 + 5 * DAY + i * SECOND) for i in range(3)]
    cases.append(_complaint_case(cast, when=T0 + 6 * DAY))
    at(T0 + 6 * DAY + HOUR, services.case_assign, case=cases[0], actor=cast.agent, assignee=cast.arbitrator)
    at(T0 + 6 * DAY + HOUR, services.case_suspend, case=cases[1], actor=cast.arbitrator, reason="等待质检报告")
    at(
        T0 + 6 * DAY + 2 * HOUR,
        services.case_rule,
        case=cases[2],
        actor=cast.arbitrator,
        outcome="partial",
        responsibility="seller",
        refund_amount=Decimal("88.50"),
        note="部分退款",
    )
    Case.objects.filter(pk=cases[3].pk).update(overdue=True)
    # Amounts at the column's edges (PostgreSQL prints the written-out page's, DRF quantizes the ORM's).
    Case.objects.filter(pk=cases[0].pk).update(refund_amount=Decimal("0"))
    Case.objects.filter(pk=cases[1].pk).update(refund_amount=Decimal("9999999999.99"))
    Case.objects.filter(pk=cases[3].pk).update(refund_amount=Decimal("-0.5"))
    Deadline.objects.filter(subject_kind="case", subject_id=cases[3].pk).update(
        status="fired", fired_at=T0 + 7 * DAY, fired_by="sweep", outcome="escalated"
    )
    return cases


def _page_as_the_serializer_gives(cast, api) -> dict:
    """GET cases/ (one page of them all) after asserting it is CaseSerializer's output of the queue."""
    with time_machine.travel(T0 + 8 * DAY, tick=False):
        body = api(cast.agent).get("/api/v1/cases/?page_size=200").json()
    expected = _queue(cast.agent)
    deadlines_attach(expected)
    assert body["results"] == _json(s.CaseSerializer(expected, many=True).data)
    return body


def test_the_queue_page_is_exactly_what_the_case_serializer_gives(cast, api, queue_path):
    _varied_cases(cast)
    body = _page_as_the_serializer_gives(cast, api)
    assert list(body["results"][0]) == s.CaseSerializer.Meta.fields  # the same keys, in the same order
    shown = {r["id"]: r for r in body["results"]}
    assert {r["refund_amount"] for r in shown.values()} >= {"88.50", "0.00", "9999999999.99", "-0.50"}
    assert any(r["assignee_name"] == "arbitrator" for r in shown.values())
    assert any(d["paused"] and d["remaining"] for r in shown.values() for d in r["deadlines"])
    assert any(d["fired_at"] for r in shown.values() for d in r["deadlines"])


def test_deadlines_data_is_what_the_deadline_serializer_gives():
    base = dict(subject_kind="refund", subject_id=1, started_at=T0, duration_amount=3, duration_unit="days")
    rows = [
        Deadline.objects.create(rule="R-T04", kind="r_t04_seller_answer", due_at=T0 + 3 * DAY, **base),
        Deadline.objects.create(
            rule="R-T08",
            kind="r_t08_reminder",
            due_at=T0 + DAY,
            paused_at=T0 + HOUR,
            remaining=dt.timedelta(hours=22, seconds=1, microseconds=5),
            note="暂停",
            **base,
        ),
        Deadline.objects.create(
            rule="R-T09", kind="x", status="fired", due_at=T0, fired_at=T0 + SECOND, fired_by="sweep", **base
        ),
        Deadline.objects.create(
            rule="X-NONE", kind="x", status="cancelled", due_at=T0, cancelled_at=T0, cancel_reason="moved on", **base
        ),
    ]
    fresh = list(Deadline.objects.order_by("due_at", "id"))
    assert deadlines_data(fresh) == _json(s.DeadlineSerializer(fresh, many=True).data)
    assert deadlines_data(rows) == _json(s.DeadlineSerializer(rows, many=True).data)  # as created, not re-read


def test_a_refund_filed_answers_what_reading_it_back_answers(cast, api):
    for state, body in [
        ("not_shipped", {"kind": "refund_only", "reason": "ordered_by_mistake", "amount": "9.90"}),
        ("received", {"kind": "return_and_refund", "reason": "quality_issue", "amount": "120.00"}),
        ("received", {"kind": "exchange", "reason": "no_reason_7d", "amount": "0.00"}),
    ]:
        order = make_order(cast, state)
        client = api(cast.buyer)
        with time_machine.travel(T0 + 5 * DAY, tick=False):
            created = client.post("/api/v1/refunds/", {"order": order.pk, **body}, format="json")
            assert created.status_code == 201, created.json()
            read = client.get(f"/api/v1/refunds/{created.json()['id']}/")
        assert created.json() == read.json()


def _varied_refunds(cast) -> list[Refund]:
    """A refund in every state, of every kind and stage, with and without the optional values: a
    description, a refusal, a return address, a return shipment and its rejection, a case, an
    express advance (R-F06, the cast's buyer is in good standing), a refunded amount, a close reason;
    orders paid, shipped, signed, completed."""
    when = T0 + 5 * DAY
    pending = at(
        T0 + HOUR,
        services.refund_file,
        actor=cast.buyer,
        order=make_order(cast, "not_shipped"),
        kind="refund_only",
        reason="ordered_by_mistake",
        amount=Decimal("9.90"),
        description='拍错了 "颜色"',
    )
    in_transit = file_refund(cast, make_order(cast, "shipped"), at=T0 + 2 * DAY, amount="33.30")
    refused = file_refund(cast, make_order(cast, "received", complete=True), at=T0 + 4 * DAY, amount="100.00")
    at(when, services.refund_refuse, refund=refused, actor=cast.seller, reason="商品无质量问题")
    returning = file_refund(cast, make_order(cast, "received"), at=T0 + 4 * DAY, kind="return_and_refund")
    at(when, services.refund_approve, refund=returning, actor=cast.seller, return_address="杭州市西湖区 1 号")
    shipped_back = file_refund(cast, make_order(cast, "received"), at=T0 + 4 * DAY, kind="return_and_refund")
    at(when, services.refund_approve, refund=shipped_back, actor=cast.seller)
    at(
        when + HOUR,
        services.refund_return_shipment,
        refund=shipped_back,
        actor=cast.buyer,
        carrier="顺丰",
        tracking_number="SF1",
    )
    rejected = file_refund(cast, make_order(cast, "received"), at=T0 + 4 * DAY, kind="return_and_refund")
    at(when, services.refund_approve, refund=rejected, actor=cast.seller)
    at(
        when + HOUR,
        services.refund_return_shipment,
        refund=rejected,
        actor=cast.buyer,
        carrier="顺丰",
        tracking_number="SF2",
    )
    at(when + 2 * HOUR, services.refund_reject_return, refund=rejected, actor=cast.seller, reason="包装破损")
    refunded = file_refund(cast, make_order(cast, "received", amount="123.45"), at=T0 + 4 * DAY, amount="23.45")
    at(when, services.refund_approve, refund=refunded, actor=cast.seller)
    withdrawn = file_refund(cast, make_order(cast, "received"), at=T0 + 4 * DAY)
    at(when, services.refund_withdraw, refund=withdrawn, actor=cast.buyer)
    exchange = file_refund(
        cast, make_order(cast, "received", free_shipping=True), at=T0 + 4 * DAY, kind="exchange", reason="no_reason_7d"
    )
    escalated = _refund_case(cast, when=when).refund
    return [pending, in_transit, refused, returning, shipped_back, rejected, refunded, withdrawn, exchange, escalated]


def test_refund_data_is_what_the_refund_serializer_gives(cast):
    filed = _varied_refunds(cast)
    # Read as GET refunds/ reads them (views.RefundViewSet.get_queryset): the order, shop and case joined.
    refunds = list(refund_list_for(cast.buyer).select_related("case", "shop__owner").order_by("id"))
    assert [r.pk for r in refunds] == sorted(r.pk for r in filed)
    with time_machine.travel(T0 + 8 * DAY, tick=False):
        for refund in refunds:
            assert list(refund_data(refund)) == s.RefundSerializer.Meta.fields  # the same keys, in the same order
            assert refund_data(refund) == _json(s.RefundSerializer(refund).data), refund.status
    shown = [refund_data(r) for r in refunds]
    # Every state but `exchanged` (an exchange's ending) and `return_rejected` (the returned goods of an
    # express refund go to the platform at once): the rejected return is shown in arbitration.
    statuses = set(Refund.Status) - {Refund.Status.EXCHANGED, Refund.Status.RETURN_REJECTED}
    assert {r["status"] for r in shown} == statuses
    assert {r["stage"] for r in shown} == set(Refund.Stage) and {r["kind"] for r in shown} == set(Refund.Kind)
    assert {r["return_freight_payer"] for r in shown} == set(Refund.FreightPayer)
    assert any(r["case"] for r in shown) and any(r["express"] for r in shown) and any(r["description"] for r in shown)
    assert any(r["return_rejection_reason"] for r in shown) and any(r["refunded_at"] for r in shown)
    assert all(r["deadlines"] for r in shown if r["status"] not in ("closed", "refunded"))


def _same_for_any_order(value, pk: int, *, texts: bool = True):
    """A response's JSON with what depends on which order was used (the order's id, the refund's and
    its clocks' ids) taken out, so that answers about two fresh orders compare. The order's id is
    taken out of messages, not out of the clocks' texts, which are the rulebook's ("15 days")."""
    if isinstance(value, dict):
        return {
            k: "ID" if k == "id" else _same_for_any_order(v, pk, texts=texts and k != "deadlines")
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_same_for_any_order(v, pk, texts=texts) for v in value]
    if isinstance(value, str) and texts:  # the order's id in a message, never a date's or a time's digits
        return re.sub(rf"(?<![\d:-]){pk}(?![\d:T-])", "ORDER", value)
    return value


FILINGS = [  # (who, body given the order's id): valid, malformed, and refused by the rules
    ("buyer", lambda o: {"order": o, "kind": "refund_only", "reason": "ordered_by_mistake", "amount": "9.90"}),
    ("buyer", lambda o: {"order": o, "kind": "refund_only", "reason": "out_of_stock", "amount": 9.9, "note": 1}),
    ("buyer", lambda o: {"order": o, "kind": "refund_only", "reason": "out_of_stock", "amount": 9, "description": "x"}),
    ("buyer", lambda o: {"order": str(o), "kind": "refund_only", "reason": "ordered_by_mistake", "amount": "1"}),
    (
        "buyer",
        lambda o: {"order": o, "kind": "refund_only", "reason": "ordered_by_mistake", "amount": "9.9", "buyer": None},
    ),
    ("buyer", lambda o: {"order": o, "reason": "ordered_by_mistake", "amount": "9.90"}),
    ("buyer", lambda o: {"order": o, "kind": 1, "reason": "ordered_by_mistake", "amount": "9.90"}),
    ("buyer", lambda o: {"order": o, "kind": "refund_only", "reason": "nope", "amount": "-1"}),
    ("buyer", lambda o: {"order": o, "kind": "refund_only", "reason": "out_of_stock", "amount": "1.234"}),
    ("buyer", lambda o: {"order": o, "kind": "refund_only", "reason": "out_of_stock", "amount": "NaN"}),
    (
        "buyer",
        lambda o: {"order": o, "kind": "refund_only", "reason": "out_of_stock", "amount": "1", "description": None},
    ),
    (
        "buyer",
        lambda o: {
            "order": o,
            "kind": "refund_only",
            "reason": "out_of_stock",
            "amount": "1",
            "description": "x" * 2001,
        },
    ),
    ("buyer", lambda o: {"order": True, "kind": "refund_only", "reason": "out_of_stock", "amount": "1"}),
    ("buyer", lambda o: {"order": 0, "kind": "refund_only", "reason": "out_of_stock", "amount": "1"}),
    ("buyer", lambda o: {"order": 2**70, "kind": "refund_only", "reason": "out_of_stock", "amount": "1"}),
    ("buyer", lambda o: {"order": 999_999_999, "kind": "refund_only", "reason": "out_of_stock", "amount": "1"}),
    ("buyer", lambda o: {"order": None, "kind": "refund_only", "reason": "out_of_stock", "amount": "1"}),
    ("buyer", lambda o: [o]),
    ("buyer", lambda o: {"order": o, "kind": "refund_only", "reason": "quality_issue", "amount": "9.90"}),  # stage
    ("buyer", lambda o: {"order": o, "kind": "exchange", "reason": "out_of_stock", "amount": "0.00"}),  # kind
    ("buyer", lambda o: {"order": o, "kind": "refund_only", "reason": "out_of_stock", "amount": "200.01"}),  # R-F04
    ("other_buyer", lambda o: {"order": o, "kind": "refund_only", "reason": "out_of_stock", "amount": "1"}),
    ("other_buyer", lambda o: {"order": o, "kind": "nope", "reason": "out_of_stock", "amount": "1"}),
    ("buyer_and_seller", lambda o: {"order": o, "kind": "refund_only", "reason": "out_of_stock", "amount": "1"}),
]


def test_a_buyers_filing_answers_what_the_full_serializer_answers(cast, api, monkeypatch):
    """POST refunds/ checks a buyer's well-formed request without RefundCreateSerializer
    (serializers.refund_request_on_own_order): every answer, of every kind, is the serializer's."""
    both = UserFactory(roles=["buyer", "seller"])  # sees the shop's orders as its staff, files as a buyer
    cast.shop.staff.add(both)
    clients = {"buyer": api(cast.buyer), "other_buyer": api(cast.other_buyer), "buyer_and_seller": api(both)}
    quick = s.refund_request_on_own_order
    taken = 0
    for who, body in FILINGS:
        answers = []
        for path in (quick, lambda data: None):
            monkeypatch.setattr(s, "refund_request_on_own_order", path)
            order = make_order(cast, "not_shipped")
            with time_machine.travel(T0 + HOUR, tick=False):
                r = clients[who].post("/api/v1/refunds/", body(order.pk), format="json")
            answers.append((r.status_code, _same_for_any_order(r.json(), order.pk)))
        assert answers[0] == answers[1], (who, body(0))
        taken += quick(body(1)) is not None and who == "buyer"
    assert taken == 7  # the quick path was tried: valid requests, refused by the rules or naming no order of theirs


def test_a_second_open_refund_is_still_refused_r_f05(cast, api):
    order = make_order(cast, "received")
    body = {"order": order.pk, "kind": "refund_only", "reason": "quality_issue", "amount": "10.00"}
    with time_machine.travel(T0 + 5 * DAY, tick=False):
        assert api(cast.buyer).post("/api/v1/refunds/", body, format="json").status_code == 201
        second = api(cast.buyer).post("/api/v1/refunds/", body, format="json")
    assert second.status_code == 409 and second.json()["code"] == "open_refund_exists"


# --- the queue's pages: one statement for the page and its capped count ------------------------------


def _reference(agent, query: dict) -> dict | int:
    """What DRF's own paginate_queryset with CappedCountPaginator answers (the path before #9's change)."""
    request = Request(APIRequestFactory().get("/api/v1/cases/", query))
    request.user = agent
    pagination = QueuePagination()
    try:
        queue = case_list_for(agent).filter(**({"status": query["status"]} if "status" in query else {}))
        page = pagination.paginate_queryset(queue.order_by(*QUEUE_ORDER), request)
    except NotFound as exc:
        return exc.status_code
    data = pagination.get_paginated_response([c.pk for c in page or []]).data
    return {**data, "next": _query(data["next"]), "previous": _query(data["previous"])}


def _query(link: str | None) -> str | None:
    return link.split("?", 1)[1] if link and "?" in link else link


def _answer(client, query: dict) -> dict | int:
    r = client.get("/api/v1/cases/", query)
    if r.status_code != 200:
        return r.status_code
    body = r.json()
    return {
        "count": body["count"],
        "count_capped": body["count_capped"],
        "next": _query(body["next"]),
        "previous": _query(body["previous"]),
        "results": [c["id"] for c in body["results"]],
    }


def _compare(cast, api, queries):
    client = api(cast.agent)
    for query in queries:
        assert _answer(client, query) == _reference(cast.agent, query), query


@pytest.fixture(autouse=True)
def own_cache(monkeypatch):
    """A cache of this test's own: no capped count leaks into another test."""
    own = LocMemCache("test-representation", {})  # LocMemCaches of one name share their store: empty it
    own.clear()
    monkeypatch.setattr(core_api, "cache", own)


PAGES = [
    {},
    {"page": "1"},
    {"page": "2", "page_size": "2"},
    {"page": "3", "page_size": "2"},
    {"page": "4", "page_size": "2"},
    {"page": "last", "page_size": "2"},
    {"page": "0"},
    {"page": "-1"},
    {"page": "x"},
    {"page": "2.0"},
    {"page": "99999999999999999999999"},
    {"page": "2"},
    {"status": "closed"},
    {"status": "closed", "page": "2"},
]


def test_pages_bounds_and_404s_are_those_of_the_plain_paginator(cast, api, queue_path):
    _compare(cast, api, PAGES)  # an empty queue
    for i in range(5):
        _refund_case(cast, when=T0 + 5 * DAY + i * SECOND)
    _compare(cast, api, PAGES)


def test_past_the_cap_pages_bounds_and_404s_are_those_of_the_plain_paginator(cast, api, monkeypatch, queue_path):
    for i in range(5):
        _refund_case(cast, when=T0 + 5 * DAY + i * SECOND)
    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    monkeypatch.setattr(CappedCountPaginator, "CAPPED_COUNT_SECONDS", 0)  # no cache: every page counts
    _compare(cast, api, PAGES)
    monkeypatch.setattr(CappedCountPaginator, "CAPPED_COUNT_SECONDS", 60)
    _compare(cast, api, PAGES)  # first counted, then from the cache


def test_a_capped_count_is_cached_an_exact_one_never(cast, api, monkeypatch, queue_path):
    client = api(cast.agent)
    for i in range(2):
        _refund_case(cast, when=T0 + 5 * DAY + i * SECOND)
    assert client.get("/api/v1/cases/").json()["count"] == 2
    _refund_case(cast, when=T0 + 5 * DAY + 9 * SECOND)
    assert client.get("/api/v1/cases/").json()["count"] == 3  # exact counts are read every time
    monkeypatch.setattr(CappedCountPaginator, "CAP", 2)
    with CaptureQueriesContext(connection) as first:
        body = client.get("/api/v1/cases/?page_size=1").json()
    assert body["count"] == 2 and body["count_capped"] is True
    with CaptureQueriesContext(connection) as second:
        body = client.get("/api/v1/cases/?page_size=1").json()
    assert body["count"] == 2 and body["count_capped"] is True
    assert len(first.captured_queries) == len(second.captured_queries)  # the count never adds a statement
    assert any("COUNT(*)" in q["sql"] for q in first.captured_queries)
    assert not any("COUNT(*)" in q["sql"] for q in second.captured_queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the written-out statement is PostgreSQL's")
def test_only_a_first_page_without_filter_values_is_prepared(cast, api):
    """The first page of the queue, unfiltered or filtered without values, is a statement without
    parameters (its bounds written in), prepared once per session: one plan, the plan of those very
    bounds. Any other page (a filter's value, a later page) is planned for its values, as before."""
    for i in range(3):
        _refund_case(cast, when=T0 + 5 * DAY + i * SECOND)
    client = api(cast.agent)

    def page_statements(path):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200
        return [q["sql"] for q in ctx.captured_queries if "disputes_deadline" in statement_of(q["sql"])]

    for path in ("/api/v1/cases/?page_size=2", "/api/v1/cases/?page_size=2&assignee=none"):
        page_statements(path)
        [run] = page_statements(path)
        assert re.fullmatch(r"EXECUTE p_[0-9a-f]{24}_\d+", run), run  # prepared, and no values
        assert "LIMIT 2)" in statement_of(run) and "OFFSET" not in statement_of(run)
        with connection.cursor() as cursor:
            cursor.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = %s", [run[8:]])
            generic, custom = cursor.fetchone()
        assert custom == 0 and generic >= 1  # without parameters there is only the one plan
    for path in ("/api/v1/cases/?page_size=2&page=2", "/api/v1/cases/?page_size=2&status=open"):
        page_statements(path)
        [run] = page_statements(path)
        assert run.startswith("SELECT ") and "OFFSET" in run  # unprepared, its values in the text


def test_every_filter_and_page_answers_the_same_bytes_both_ways(cast, api, monkeypatch):
    """The written-out statement against the ORM, on the bench's own mix of cases (statuses, kinds,
    shops, assignees or none, overdue, clocks) and the varied ones: the same bytes, or the same error."""
    generate.generate_base(scale=0.0005)
    _varied_cases(cast)
    assignee, shop = Case.objects.exclude(assignee=None).values_list("assignee_id", "shop_id").first()
    queries = [
        {},
        {"page_size": "200"},
        {"page": "2", "page_size": "40"},
        {"page": "last", "page_size": "30"},
        {"page": "99"},
        {"status": "open"},
        {"status": "under_review", "page_size": "200"},
        {"status": "ruled", "page": "2", "page_size": "10"},
        {"status": "nope"},
        {"assignee": "none"},
        {"assignee": str(assignee)},
        {"assignee": str(cast.arbitrator.pk)},
        {"assignee": "abc"},
        {"assignee": "99999999999999999999"},
        {"overdue": "true"},
        {"overdue": "1", "page_size": "5"},
        {"overdue": "false"},
        {"overdue": "0", "page": "3"},
        {"overdue": "maybe"},
        {"kind": "complaint"},
        {"kind": "refund", "status": "open"},
        {"shop": str(shop)},
        {"shop": str(cast.shop.pk), "page_size": "200"},
        {"shop": "99999999999999999999"},
        {"status": "open", "overdue": "false", "assignee": "none", "kind": "refund"},
        {"status": "open", "overdue": "true", "assignee": str(assignee), "kind": "refund", "shop": str(shop)},
    ]
    client = api(cast.agent)
    assert client.get("/api/v1/cases/").status_code == 200  # warm: the agent's roles are read once
    seen = set()
    with time_machine.travel(T0 + 8 * DAY, tick=False):
        for query in queries:
            with CaptureQueriesContext(connection) as written:
                expected = client.get("/api/v1/cases/", query)
            statements = len(written.captured_queries)  # before the next request empties the log
            with monkeypatch.context() as orm:
                orm.setattr(case_queue, "WRITTEN_OUT_VENDORS", ())
                got = client.get("/api/v1/cases/", query)
            assert (got.status_code, got.content) == (expected.status_code, expected.content), query
            assert expected.content == JSONRenderer().render(expected.data), query  # orjson: DRF's own bytes
            if expected.status_code == 200:
                seen.add(tuple(r["id"] for r in expected.json()["results"]))
                if connection.vendor == "postgresql" and query.get("page") != "last":
                    assert statements == 1, query  # the page, its count and its clocks
    assert len(seen) >= 15  # the filters did filter


def test_both_ways_agree_in_another_time_zone(cast, api, monkeypatch):
    _varied_cases(cast)
    client = api(cast.agent)
    with timezone.override(zoneinfo.ZoneInfo("America/St_Johns")):  # -03:30, and summer time
        expected = client.get("/api/v1/cases/")
        monkeypatch.setattr(case_queue, "WRITTEN_OUT_VENDORS", ())
        got = client.get("/api/v1/cases/")
    assert got.content == expected.content
    assert "-03:30" in expected.content.decode() or "-02:30" in expected.content.decode()


def test_the_counts_past_the_cap_are_the_same_both_ways(cast, api, monkeypatch):
    generate.generate_base(scale=0.0005)
    monkeypatch.setattr(CappedCountPaginator, "CAP", 30)
    client = api(cast.agent)
    for seconds in (0, 60):  # counted with every page, then from the cache
        monkeypatch.setattr(CappedCountPaginator, "CAPPED_COUNT_SECONDS", seconds)
        for query in [{}, {"page": "2", "page_size": "20"}, {"page": "3", "page_size": "20"}, {"status": "open"}]:
            expected = client.get("/api/v1/cases/", query)
            with monkeypatch.context() as orm:
                orm.setattr(case_queue, "WRITTEN_OUT_VENDORS", ())
                got = client.get("/api/v1/cases/", query)
            assert (got.status_code, got.content) == (expected.status_code, expected.content), query
            if expected.status_code == 200:
                assert expected.json()["count_capped"] is True


# Statements of POST refunds/ for a refund before shipment (bench 4's request), authentication aside:
# BEGIN, the buyer's order locked with its shop and the shop's staff (the new refund's id drawn with it),
# its refunds, then the refund, its two clocks, the event with its chain head and the notification as one
# statement (core.inserts.Writes), COMMIT. Was 18 before #9 (the order's items and shipments prefetched
# and unused, a second read of its refunds, the refund read back with its order, items and clocks, a
# statement per clock and two per event), then 10 (the order looked up by the serializer before it was
# locked, the shop's staff read on their own), then 8 (each write its own statement).
REFUND_FILE_STATEMENTS = 5


def test_filing_a_refund_takes_a_fixed_number_of_statements(cast, api):
    client = api(cast.buyer)
    for i in range(3):
        order = make_order(cast, "not_shipped")
        body = {"order": order.pk, "kind": "refund_only", "reason": "ordered_by_mistake", "amount": "9.90"}
        with time_machine.travel(T0 + HOUR + i * SECOND, tick=False), CaptureQueriesContext(connection) as ctx:
            assert client.post("/api/v1/refunds/", body, format="json").status_code == 201
        statements = [q["sql"] for q in ctx.captured_queries if "auth_group" not in statement_of(q["sql"])]
        assert len(statements) == REFUND_FILE_STATEMENTS, statements
        if i and connection.vendor == "postgresql":  # the lock, the refunds, the writes: prepared (core.prepared)
            assert len([sql for sql in statements if sql.startswith("EXECUTE p_")]) == 3, statements


# --- timestamps read as PostgreSQL's text (representation.text_when) ---------------------------------

HALF_MINUTE = dt.datetime(2026, 6, 1, 0, 0, 30, tzinfo=dt.UTC)  # see ChangesMidMinute
INSTANTS = [
    dt.datetime(2026, 11, 22, 4, 15, 37, 489775, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 22, 4, 15, 37, tzinfo=dt.UTC),  # no fraction
    dt.datetime(2026, 11, 22, 4, 15, 37, 100000, tzinfo=dt.UTC),  # PostgreSQL writes ".1"
    dt.datetime(2026, 11, 22, 4, 15, 37, 5, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),  # the local day and year turn
    dt.datetime(2026, 3, 8, 6, 59, 59, 999999, tzinfo=dt.UTC),  # New York: the last instant of winter time
    dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC),  # … and the first of summer time
    dt.datetime(2026, 11, 1, 5, 30, 1, tzinfo=dt.UTC),  # New York: the repeated hour
    dt.datetime(2026, 10, 3, 15, 30, 0, 250000, tzinfo=dt.UTC),  # Lord Howe: a half-hour change
    dt.datetime(1900, 6, 1, 12, 0, 30, tzinfo=dt.UTC),  # local mean times, offsets with seconds
    dt.datetime(1986, 5, 4, 18, 0, 0, 1, tzinfo=dt.UTC),  # China's summer time (1986–1991)
    HALF_MINUTE - dt.timedelta(seconds=1),
    HALF_MINUTE + dt.timedelta(seconds=1),
]
ZONES = ["Asia/Shanghai", "UTC", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "Europe/Dublin"]


class ChangesMidMinute(dt.tzinfo):
    """+01:00 until HALF_MINUTE, +02:00 from then on: no zone of tzdata does that, `text_when` must not
    assume it never happens."""

    def utcoffset(self, value):
        return dt.timedelta(hours=1 if value.replace(tzinfo=None) < dt.datetime(2026, 6, 1, 1, 0, 30) else 2)

    def dst(self, value):
        return dt.timedelta(0)

    def fromutc(self, value):
        after = value.replace(tzinfo=None) >= HALF_MINUTE.replace(tzinfo=None)
        return value + dt.timedelta(hours=2 if after else 1)


def _postgres_texts(values):
    with connection.cursor() as cursor:
        cursor.execute("SELECT unnest(%s::timestamptz[])::text", [values])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's text of a timestamptz")
@pytest.mark.parametrize("session_zone", [None, "Asia/Kolkata"])
def test_timestamps_from_postgresql_text_are_what_drf_gives(session_zone):
    if session_zone:  # not Django's UTC session: every text is parsed whole (rolled back with the test)
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE %s", [session_zone])
    texts = _postgres_texts(INSTANTS)
    assert texts[1] == "2026-11-22 04:15:37+00" or session_zone
    field = serializers.DateTimeField()
    for zone in [*map(zoneinfo.ZoneInfo, ZONES), ChangesMidMinute()]:
        when = text_when(zone)
        with timezone.override(zone):
            expected = [field.to_representation(value) for value in INSTANTS]
        assert [when(text) for text in texts] == expected, zone
        assert [when(text) for text in texts] == expected, zone  # again, from the texts kept
        representation._LOCAL_TEXTS[zone].clear()
        assert [when(text) for text in texts] == expected, zone  # again, from the minutes worked out
    assert text_when(zoneinfo.ZoneInfo("UTC"))(None) is None


def test_the_texts_kept_per_time_zone_are_bounded(monkeypatch):
    monkeypatch.setattr(representation, "_LOCAL_TEXTS_KEPT", 3)
    monkeypatch.setattr(representation, "_LOCAL_TEXTS", {})
    zone = zoneinfo.ZoneInfo("Asia/Shanghai")
    when = text_when(zone)
    field = serializers.DateTimeField()
    texts = [f"2026-11-22 04:15:{second:02d}.5+00" for second in range(10)]
    for text in texts + texts:
        with timezone.override(zone):
            assert when(text) == field.to_representation(dt.datetime.fromisoformat(text))
        assert 1 <= len(representation._LOCAL_TEXTS[zone]) <= 3


def test_a_queue_narrowed_before_its_filters_or_by_an_unknown_filter_is_read_through_the_orm(cast):
    """The written-out statement knows the whole table and CaseViewSet's filters only: anything else
    (case_list_for narrowed one day, `.none()`, a filter it has no SQL for) must not be dropped."""
    cases = _varied_cases(cast)
    complaint = cases[3]
    narrowed = case_list_for(cast.agent).filter(kind="complaint")
    rows, count = case_queue.queue_rows(narrowed, {}).rows(0, 50, count_cap=100)
    assert [r["id"] for r in rows] == [complaint.pk] and count == 1
    assert case_queue.queue_rows(narrowed, {}).count(100) == 1
    assert case_queue.queue_rows(Case.objects.none(), {}).rows(0, 50, count_cap=100) == ([], None)
    unknown = {"kind": "complaint", "refund__isnull": True}
    rows, count = case_queue.queue_rows(case_list_for(cast.agent), unknown).rows(0, 50, count_cap=100)
    assert [r["id"] for r in rows] == [complaint.pk] and count == 1
    rows, count = case_queue.queue_rows(case_list_for(cast.agent), {}).rows(0, 50, count_cap=100)
    assert len(rows) == 4 and count == 4


def _clocks_out_of_order(cast) -> list[Case]:
    """The varied cases, the first with clocks written latest-due first and two due at one time (the
    index gives them in the order written; the page gives them by due time, then id), and two overdue
    cases due at one time (the queue breaks the tie by id)."""
    cases = _varied_cases(cast)
    base = dict(subject_kind="case", subject_id=cases[0].pk, rule="R-T12", kind="x", started_at=T0)
    base.update(duration_amount=3, duration_unit="days")
    for due in (T0 + 9 * DAY, T0 + 7 * DAY, T0 + 7 * DAY, T0 + 8 * DAY + SECOND / 2):
        Deadline.objects.create(due_at=due, **base)
    Case.objects.filter(pk__in=[cases[1].pk, cases[2].pk]).update(overdue=True, next_due_at=T0 + 6 * DAY)
    return cases


def test_each_cases_clocks_come_by_due_time_whatever_order_they_were_written(cast, api, queue_path):
    _clocks_out_of_order(cast)
    body = _page_as_the_serializer_gives(cast, api)
    dues = [d["due_at"] for r in body["results"] for d in r["deadlines"]]
    assert len(dues) >= 6


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the written-out statement is PostgreSQL's")
def test_the_page_is_put_in_order_whatever_order_its_rows_come_in(cast):
    """PostgreSQL does not sort the page's joined rows (case_queue._statement): rows in any order come
    out as the ordered statement gives them."""
    import random

    _clocks_out_of_order(cast)
    with connection.cursor() as cursor:
        cursor.execute(case_queue._statement("", False, ordered=True), [200, 0])
        ordered = cursor.fetchall()
    assert len({row[0] for row in ordered}) >= 4 and len(ordered) > len({row[0] for row in ordered})

    def shown(page):  # a case's own columns (any of its rows carries them) and its clocks' rows
        return [(case[: case_queue._CLOCK], clocks) for case, clocks in page]

    expected = shown(case_queue._grouped(ordered))
    shuffle = random.Random(9)
    for _ in range(20):
        rows = ordered[:]
        shuffle.shuffle(rows)
        assert shown(case_queue._in_order(rows)) == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the written-out statement is PostgreSQL's")
def test_a_time_whose_text_does_not_sort_has_postgresql_sort_the_page(cast, api, monkeypatch):
    _clocks_out_of_order(cast)
    client = api(cast.agent)
    with monkeypatch.context() as orm:
        orm.setattr(case_queue, "WRITTEN_OUT_VENDORS", ())
        reference = client.get("/api/v1/cases/?page_size=200").content
    monkeypatch.setattr(case_queue, "_sortable", lambda text: False)
    with CaptureQueriesContext(connection) as ctx:
        got = client.get("/api/v1/cases/?page_size=200").content
    pages = [statement_of(q["sql"]) for q in ctx.captured_queries if "disputes_deadline" in statement_of(q["sql"])]
    assert len(pages) == 2 and "ORDER BY" not in pages[0].rsplit(") AS p", 1)[1] and "d.due_at ASC" in pages[1]
    assert got == reference
    monkeypatch.undo()
    row = [None] * 40
    row[case_queue._ID], row[case_queue._OVERDUE], row[case_queue._NEXT_DUE] = 1, False, "infinity"
    assert case_queue._in_order([tuple(row)]) is None  # the guard itself: a time whose text will not sort
    row[case_queue._NEXT_DUE] = "2026-11-22 04:15:37+00"
    assert case_queue._in_order([tuple(row)]) == [(tuple(row), [])]
