"""GET cases/ on PostgreSQL: a queue page, its capped count and the page's deadlines in one statement
(issue #9, bench 4).

Through the ORM the page cost two statements (the page with its count, then its deadlines) and more
Python compiling them than PostgreSQL spent running them. Here the statement is written out once per
combination of filters and reused with the request's values as parameters (the first page without
filter values, the queue every agent opens, has its bounds written in instead and is prepared once
per session: `CaseQueueRows.rows`); the rows come back as tuples, one per (case, deadline), are put in
the queue's order and then the deadlines' (due_at, id) here (`_in_order`: PostgreSQL chooses the page
but does not sort its joined rows), and are shaped by disputes/representation.py exactly as through
the ORM. Anything this module does not know
(another database, a filter it has no SQL for, a queryset that is `.none()`) goes through the ORM:
`queue_rows` decides. tests/disputes/test_representation.py compares both paths, filter by filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import DateTimeField, DecimalField, F, QuerySet
from django.utils import timezone

from core import prepared
from core.api import CountedRows, QuerysetRows
from orders.models import Shop

from .models import Case, Deadline
from .representation import (
    AMOUNT_PLACES,
    CASE_LIST_VALUES,
    DEADLINE_VALUES,
    case_list_data,
    case_row,
    deadline_row,
    text_when,
)

# The databases the statement is written for; anywhere else (the quick start's SQLite) the ORM reads the page.
WRITTEN_OUT_VENDORS = ("postgresql",)
# The queue's order (CaseViewSet.get_queryset, the index case_queue_order_idx).
QUEUE_ORDER = "c.overdue DESC, c.next_due_at ASC NULLS LAST, c.id ASC"


def _text(model, name: str) -> str:
    """Timestamps are read as their text in the session's UTC (representation.text_when formats it), and
    amounts as their text: a numeric column of 2 decimal places prints exactly the 2 places DRF's
    DecimalField(decimal_places=2) writes ("88.50", "0.00"), without a Decimal made and quantized per
    row (1.4 µs each, 70 µs a page)."""
    if "__" in name:
        return ""
    field = model._meta.get_field(name)
    if isinstance(field, DateTimeField):
        return "::text"
    if isinstance(field, DecimalField) and field.decimal_places == AMOUNT_PLACES:
        return "::text"
    return ""


def _where(filters: Mapping[str, Any]) -> tuple[str, list[Any]] | None:
    """CaseViewSet's filters as SQL on `c` (the case), with their parameters; None for a filter unknown here."""
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in sorted(filters.items()):
        if name == "assignee__isnull":
            clauses.append("c.assignee_id IS NULL" if value else "c.assignee_id IS NOT NULL")
        elif name in ("status", "kind", "overdue", "assignee_id", "shop_id"):
            clauses.append(f"c.{name} = %s")
            params.append(value)
        else:
            return None
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


# Where each column is in a row of the page statement (its case's columns are named c0, c1, … by these
# positions) and where _in_order finds the queue's order and the clocks'.
_AT = {name: i for i, name in enumerate(CASE_LIST_VALUES)}
_ID, _OVERDUE, _NEXT_DUE = _AT["id"], _AT["overdue"], _AT["next_due_at"]
_CLOCK = len(CASE_LIST_VALUES)  # a clock's columns start here (DEADLINE_VALUES)
_CLOCK_ID, _CLOCK_DUE = _CLOCK + DEADLINE_VALUES.index("id"), _CLOCK + DEADLINE_VALUES.index("due_at")


_statements: dict[tuple[str, bool, bool, tuple[int, int] | None], str] = {}


def _count(where: str, cap: str = "%s") -> str:
    """The queue's rows counted up to LIMIT %s (CappedCountPaginator.CAP + 1), or up to `cap` written in."""
    return f"SELECT COUNT(*) FROM (SELECT 1 FROM {Case._meta.db_table} c {where} LIMIT {cap}) AS capped"  # noqa: S608


def _statement(where: str, counted: bool, ordered: bool = False, first: tuple[int, int] | None = None) -> str:
    """The page (LIMIT %s OFFSET %s) of the case's own columns, then for its rows only the shop's and
    the assignee's names (scalar subqueries: cheaper to plan than the joins) and the deadlines (one row
    per clock), and (`counted`) the capped count (LIMIT %s) as a scalar subquery run once. Built once
    per filter combination.

    `first` = (the count's cap + 1, the page's size) writes the first page's bounds in (LIMIT n, no
    OFFSET, the count's LIMIT): with a `where` that takes no values either, a statement without
    parameters, whose one plan is the plan of those very values, so it can be prepared (`CaseQueueRows`).

    The page's cases are chosen in the queue's order, but the joined rows are not sorted by PostgreSQL
    unless `ordered`: sorting them (the queue's order, then each case's clocks by due time) cost the
    server 150 of the statement's 570 µs (#9, bench 4), and `CaseQueueRows` orders the page's few rows
    itself (`_in_order`)."""
    statement = _statements.get((where, counted, ordered, first))
    if statement is None:
        case, shop, user = Case._meta.db_table, Shop._meta.db_table, get_user_model()._meta.db_table
        names = {
            "shop__name": f"(SELECT s.name FROM {shop} s WHERE s.id = p.c{_AT['shop_id']})",  # noqa: S608
            "assignee__username": f"(SELECT u.username FROM {user} u WHERE u.id = p.c{_AT['assignee_id']})",  # noqa: S608
        }
        own = [name for name in CASE_LIST_VALUES if name not in names]
        page = ", ".join(f"c.{Case._meta.get_field(name).column} AS c{_AT[name]}" for name in own)  # type: ignore[union-attr]
        columns = ", ".join(
            [
                *(names.get(name) or f"p.c{_AT[name]}{_text(Case, name)}" for name in CASE_LIST_VALUES),
                *(f"d.{name}{_text(Deadline, name)}" for name in DEADLINE_VALUES),
            ]
        )
        cap, bounds = ("%s", "LIMIT %s OFFSET %s") if first is None else (str(int(first[0])), f"LIMIT {int(first[1])}")
        count = f"({_count(where, cap)})" if counted else "NULL"
        order = f"p.c{_AT['overdue']} DESC, p.c{_AT['next_due_at']} ASC NULLS LAST, p.c{_AT['id']} ASC"
        statement = _statements[(where, counted, ordered, first)] = (
            f"SELECT {columns}, {count} "  # noqa: S608 (names from the models, values are parameters or ints)
            f"FROM (SELECT {page} FROM {case} c {where} ORDER BY {QUEUE_ORDER} {bounds}) AS p "
            f"LEFT OUTER JOIN {Deadline._meta.db_table} d ON d.subject_kind = 'case' AND d.subject_id = p.c{_AT['id']}"
            + (f" ORDER BY {order}, d.due_at ASC, d.id ASC" if ordered else "")
        )
    return statement


def _sortable(text: str) -> bool:
    """A timestamp's text whose order as a string is its order in time: PostgreSQL's ISO text in UTC of a
    year 1-9999 ("2026-11-22 04:15:37.48+00"; "+" sorts before "." and the digits, so a whole second
    sorts before its fractions), which is all a Python datetime can be."""
    return len(text) >= 22 and text[4] == "-" and text[10] == " " and text.endswith("+00")


def _queue_key(row: tuple) -> tuple:
    """The queue's order (QUEUE_ORDER): overdue first, then the nearest due time (none last), then the id."""
    due = row[_NEXT_DUE]
    return (not row[_OVERDUE], due is None, due or "", row[_ID])


def _clock_key(row: tuple) -> tuple:
    return (row[_CLOCK_DUE], row[_CLOCK_ID])


def _grouped(fetched: list[tuple]) -> list[tuple[tuple, list[tuple]]]:
    """The ordered statement's rows as (case row, its clock rows): a case's rows are consecutive."""
    page: list[tuple[tuple, list[tuple]]] = []
    last = None
    for row in fetched:
        if row[_ID] != last:
            last = row[_ID]
            page.append((row, []))
        if row[_CLOCK] is not None:  # a clock (none: the LEFT JOIN found no clock)
            page[-1][1].append(row)
    return page


def _in_order(fetched: list[tuple]) -> list[tuple[tuple, list[tuple]]] | None:
    """The page's rows as (case row, its clock rows) in the queue's order, each case's clocks by (due_at,
    id), as the ordered statement gives them; None where a time's text does not sort as the time (then
    the caller asks PostgreSQL to sort). The rows come nearly in that order (the cases in the page's
    order, each case's clocks in the index's), so the common case is one pass and a check."""
    page: list[tuple[tuple, list[tuple]]] = []
    seen: dict[Any, list[tuple]] = {}
    last = clocks = previous = None
    in_order = True
    for row in fetched:
        if row[_ID] != last:  # another case, or (in another plan than the usual) one met before
            last = row[_ID]
            clocks = seen.get(last)
            if clocks is None:
                due = row[_NEXT_DUE]
                if due is not None and not _sortable(due):
                    return None
                key = _queue_key(row)
                if in_order and previous is not None and key < previous:
                    in_order = False
                previous = key
                clocks = seen[last] = []
                page.append((row, clocks))
        if row[_CLOCK] is not None:  # a clock (none: the LEFT JOIN found no clock)
            due = row[_CLOCK_DUE]
            if due is None or not _sortable(due):
                return None
            clocks.append(row)  # type: ignore[union-attr]
    if not in_order:
        page.sort(key=lambda entry: _queue_key(entry[0]))
    for _, clocks in page:
        if len(clocks) > 1:
            clocks.sort(key=_clock_key)
    return page


class CaseQueueRows:
    """CountedRows of the case queue on PostgreSQL: one written-out statement per page (see above)."""

    def __init__(self, where: str, params: list[Any]) -> None:
        self._where = where
        self._params = params

    def rows(self, bottom: int, top: int, *, count_cap: int | None) -> tuple[list, int | None]:
        if top <= bottom:
            return [], None
        counted = count_cap is not None
        cap = 0 if count_cap is None else count_cap + 1
        params = [*self._params, cap] if counted else []
        params += [*self._params, top - bottom, bottom]
        with connection.cursor() as cursor:
            if bottom == 0 and not self._params:  # the first page, no filter values: prepared (see above)
                prepared.execute(cursor, _statement(self._where, counted, first=(cap, top)), [])
            else:
                cursor.execute(_statement(self._where, counted), params)
            fetched = cursor.fetchall()
            page = _in_order(fetched) if fetched else []
            if page is None:  # a time that does not sort as text: PostgreSQL sorts the page
                cursor.execute(_statement(self._where, counted, ordered=True), params)
                fetched = cursor.fetchall()
                page = _grouped(fetched)
        if not fetched:
            return [], None
        when = text_when(timezone.get_current_timezone())
        memo: dict[str, tuple[str, str]] = {}
        out = [
            case_row(case, [deadline_row(clock[_CLOCK:], when, memo) for clock in clocks], when)
            for case, clocks in page
        ]
        return out, fetched[0][-1]

    def count(self, cap: int) -> int:
        with connection.cursor() as cursor:
            cursor.execute(_count(self._where), [*self._params, cap + 1])
            return cursor.fetchone()[0]


def queue_filtered(visible: QuerySet, filters: Mapping[str, Any]) -> QuerySet:
    """The queue through the ORM: `visible` (case_list_for) with CaseViewSet's filters, in the queue's order."""
    return visible.filter(**filters).order_by("-overdue", F("next_due_at").asc(nulls_last=True), "id")


def queue_rows(visible: QuerySet, filters: Mapping[str, Any]) -> CountedRows:
    """The queue as rows of its JSON: `visible` (the cases the user sees, case_list_for) with `filters`.
    One written-out statement per page on PostgreSQL when `visible` is the whole table (the written SQL
    knows no other restriction); the ORM, two statements, otherwise."""
    whole_table = not visible.query.where  # no condition at all (`.none()` is one)
    where = _where(filters) if connection.vendor in WRITTEN_OUT_VENDORS and whole_table else None
    if where is None:
        queryset = queue_filtered(visible, filters)
        return QuerysetRows(queryset.values_list(*CASE_LIST_VALUES), queryset, shape=case_list_data)
    return CaseQueueRows(*where)
