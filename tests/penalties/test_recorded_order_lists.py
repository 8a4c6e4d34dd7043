"""The staff's whole lists of penalties and of the ledger, read past a bound (#9, core.api.RecordedOrderRows).

Neither table keeps a B-tree in its list's order (R-T01's sweep writes a row of each per firing), so the
staff's unfiltered page sorted every row (1.35–1.41 s at 1.78 million penalties). It is now read past a
bound that the primary key gives. These tests hold it to the list's own order where the times and the
ids disagree (back-dated and late rows), page by page, and show which indexes the two statements read."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.api import RecordedOrderRows
from penalties.models import LedgerMovement, Penalty
from penalties.services import ledger_transfer
from tests.disputes.helpers import T0
from tests.penalties.factories import issue

pytestmark = pytest.mark.django_db

# Ten rows whose times disagree with their ids: by id, the times go 5, 1, 9, 2, 2, 8, 0, 7, 3, 9 (hours
# after T0), so a bound taken from the ids alone would be wrong for every page if the rows past it were
# not read in the list's own order, and two pairs tie on the time (the id decides).
HOURS = (5, 1, 9, 2, 2, 8, 0, 7, 3, 9)


def _penalties(cast) -> list[int]:
    ids = []
    for hours in HOURS:
        penalty = issue(cast.shop, "r_p01")
        Penalty.objects.filter(pk=penalty.pk).update(issued_at=T0 + dt.timedelta(hours=hours))
        ids.append(penalty.pk)
    return list(Penalty.objects.order_by("-issued_at", "-id").values_list("id", flat=True))


def _movement(cast, at: dt.datetime | None = None) -> LedgerMovement:
    return ledger_transfer(
        debit=f"shop:{cast.shop.pk}", credit=f"buyer:{cast.buyer.pk}", amount=Decimal(1), reason="t", at=at
    )


def _ledger(cast) -> list[int]:
    for hours in HOURS:
        _movement(cast, at=T0 + dt.timedelta(hours=hours))
    return list(LedgerMovement.objects.order_by("at", "id").values_list("id", flat=True))


LISTS = [("/api/v1/penalties/", _penalties, '"issued_at" >='), ("/api/v1/ledger/", _ledger, '"at" <=')]


def _walk(client, path: str, page_size: int) -> tuple[list[int], set[int], list[str]]:
    """Every page of `path` in turn: the ids in the order shown, the counts said, the statements run."""
    ids: list[int] = []
    counts: set[int] = set()
    statements: list[str] = []
    page = 1
    while True:
        with CaptureQueriesContext(connection) as queries:
            body = client.get(path, {"page": page, "page_size": page_size}).json()
        statements += [q["sql"] for q in queries.captured_queries]
        ids += [row["id"] for row in body["results"]]
        counts.add(body["count"])
        if not body["next"]:
            return ids, counts, statements
        page += 1


@pytest.mark.parametrize(("path", "make", "bound"), LISTS)
@pytest.mark.parametrize("page_size", [1, 3, 4, 10, 50])
def test_the_staffs_whole_list_pages_in_its_own_order_whatever_the_ids(cast, api, path, make, bound, page_size):
    expected = make(cast)
    ids, counts, statements = _walk(api(cast.agent), path, page_size)
    assert ids == expected
    assert counts == {len(HOURS)}
    pages = -(-len(HOURS) // page_size)
    assert sum(bound in sql for sql in statements) == pages, "every page is read past its bound"


@pytest.mark.parametrize(("path", "make", "bound"), LISTS)
def test_the_last_page_and_a_page_past_the_end(cast, api, path, make, bound):
    expected = make(cast)
    client = api(cast.agent)
    last = client.get(path, {"page": "last", "page_size": 4}).json()
    assert [row["id"] for row in last["results"]] == expected[8:]
    assert client.get(path, {"page": 4, "page_size": 4}).status_code == 404


@pytest.mark.parametrize(("path", "make", "bound"), LISTS)
def test_a_filtered_list_reads_as_before(cast, api, path, make, bound):
    """A seller's list (their shops) and a filtered one are paged as any other: a bound from the primary
    key would walk past every row the filter skips."""
    expected = make(cast)
    narrowed = {"shop": cast.shop.pk} if "penalties" in path else {"account": f"shop:{cast.shop.pk}"}
    for client, params in ((api(cast.seller), {}), (api(cast.agent), narrowed)):
        with CaptureQueriesContext(connection) as queries:
            body = client.get(path, params).json()
        assert [row["id"] for row in body["results"]] == expected
        assert not [q for q in queries.captured_queries if bound in q["sql"]]


def test_an_empty_list_is_an_empty_page(cast, api):
    body = api(cast.agent).get("/api/v1/penalties/").json()
    assert (body["count"], body["results"]) == (0, [])


def test_a_list_in_another_order_is_refused():
    with pytest.raises(ValueError, match="ordered by issued_at and id"):
        RecordedOrderRows(Penalty.objects.order_by("-id"), time="issued_at")


def _plan(sql: str, params) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return [row[0].strip() for row in cursor.fetchall()]


def _grown(model, time: str, row_id: int, rows: int) -> None:
    """`rows` copies of row `row_id`, a second apart from T0 on, summarized and analysed: a table big
    enough for the planner to choose as it would on a peak day's."""
    table = model._meta.db_table
    columns = [f.column for f in model._meta.concrete_fields if f.column not in ("id", "deadline_id", time)]
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}, {time}) SELECT {names}, %s + g * interval '1 second' "
            f"FROM {table}, generate_series(1, %s) AS g WHERE id = %s",
            [T0, rows, row_id],
        )
        cursor.execute(f"ANALYZE {table}")
        for index in connection.introspection.get_constraints(cursor, table):
            if index.endswith("_brin"):
                cursor.execute("SELECT brin_summarize_new_values(%s::regclass)", [index])


@pytest.mark.parametrize(
    ("model", "time", "brin"),
    [(Penalty, "issued_at", "penalty_issued_brin"), (LedgerMovement, "at", "ledger_movement_at_brin")],
)
def test_the_bound_reads_the_primary_key_and_the_page_the_brin_index(cast, model, time, brin):
    """The bound: the primary key, in order, `top` entries. The page: the rows past the bound, found
    through the BRIN index on the time (no entry per row for R-T01's sweep to write), not a whole sort."""
    first = issue(cast.shop, "r_p01") if model is Penalty else _movement(cast)
    _grown(model, time, first.pk, 20_000)
    descending = model._meta.ordering[0].startswith("-")
    nearest = model.objects.order_by("-pk" if descending else "pk").values(time)[:50]
    plan = _plan(*nearest.query.sql_with_params())
    assert any(f"Index Scan{' Backward' if descending else ''} using {model._meta.db_table}_pkey" in p for p in plan)
    bound = T0 + dt.timedelta(seconds=19_950 if descending else 50)
    past = model.objects.filter(**{f"{time}__{'gte' if descending else 'lte'}": bound})[:50]
    plan = _plan(*past.query.sql_with_params())
    assert any(f"Bitmap Index Scan on {brin}" in line for line in plan), plan
