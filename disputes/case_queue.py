"""GET cases/ on PostgreSQL: a queue page, its capped count and the page's deadlines in one statement
(issue #9, bench 4).

Through the ORM the page cost two statements (the page with its count, then its deadlines) and more
Python compiling them than PostgreSQL spent running them. Here the statement is written out once per
combination of filters and reused with the request's values as parameters; the rows come back as
tuples, one per (case, deadline), in the queue's order and then the deadlines' (due_at, id), and are
shaped by disputes/representation.py exactly as through the ORM. Anything this module does not know
(another database, a filter it has no SQL for, a queryset that is `.none()`) goes through the ORM:
`queue_rows` decides. tests/disputes/test_representation.py compares both paths, filter by filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from core.api import CountedRows, QuerysetRows
from orders.models import Shop

from .models import Case, Deadline
from .representation import CASE_LIST_VALUES, DEADLINE_VALUES, case_list_data, case_row, deadline_row

# The databases the statement is written for; anywhere else (the quick start's SQLite) the ORM reads the page.
WRITTEN_OUT_VENDORS = ("postgresql",)
# The queue's order (CaseViewSet.get_queryset, the index case_queue_order_idx).
QUEUE_ORDER = "{t}.overdue DESC, {t}.next_due_at ASC NULLS LAST, {t}.id ASC"


def _column(name: str) -> str:
    if name == "shop__name":
        return "s.name"
    if name == "assignee__username":
        return "u.username"
    return f"c.{Case._meta.get_field(name).column}"  # type: ignore[union-attr]


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


_statements: dict[tuple[str, bool], str] = {}


def _statement(where: str, counted: bool) -> str:
    """The page (LIMIT %s OFFSET %s) joined with its deadlines, and (`counted`) the capped count
    (LIMIT %s) as a scalar subquery that PostgreSQL runs once. Built once per filter combination."""
    statement = _statements.get((where, counted))
    if statement is None:
        case, shop, user = Case._meta.db_table, Shop._meta.db_table, get_user_model()._meta.db_table
        page_columns = ", ".join(f"{_column(name)} AS c{i}" for i, name in enumerate(CASE_LIST_VALUES))
        columns = ", ".join(
            [*(f"p.c{i}" for i in range(len(CASE_LIST_VALUES))), *(f"d.{name}" for name in DEADLINE_VALUES)]
        )
        count = "NULL"
        if counted:
            count = f"(SELECT COUNT(*) FROM (SELECT 1 FROM {case} c {where} LIMIT %s) AS capped)"  # noqa: S608
        overdue, due, pk = (CASE_LIST_VALUES.index(f) for f in ("overdue", "next_due_at", "id"))
        statement = _statements[(where, counted)] = (
            f"SELECT {columns}, {count} "  # noqa: S608 (names from the models, values are parameters)
            f"FROM (SELECT {page_columns} FROM {case} c INNER JOIN {shop} s ON s.id = c.shop_id "
            f"LEFT OUTER JOIN {user} u ON u.id = c.assignee_id {where} "
            f"ORDER BY {QUEUE_ORDER.format(t='c')} LIMIT %s OFFSET %s) AS p "
            f"LEFT OUTER JOIN {Deadline._meta.db_table} d ON d.subject_kind = 'case' AND d.subject_id = p.c{pk} "
            f"ORDER BY p.c{overdue} DESC, p.c{due} ASC NULLS LAST, p.c{pk} ASC, d.due_at ASC, d.id ASC"
        )
    return statement


class CaseQueueRows:
    """CountedRows of the case queue on PostgreSQL: one written-out statement per page (see above)."""

    def __init__(self, where: str, params: list[Any], count_source: QuerySet) -> None:
        self._where = where
        self._params = params
        self._count_source = count_source

    def rows(self, bottom: int, top: int, *, count_cap: int | None) -> tuple[list, int | None]:
        if top <= bottom:
            return [], None
        params = [] if count_cap is None else [*self._params, count_cap + 1]
        params += [*self._params, top - bottom, bottom]
        with connection.cursor() as cursor:
            cursor.execute(_statement(self._where, count_cap is not None), params)
            fetched = cursor.fetchall()
        if not fetched:
            return [], None
        tz = timezone.get_current_timezone()
        memo: dict[str, tuple[str, str]] = {}
        width = len(CASE_LIST_VALUES)
        out: list[dict[str, Any]] = []
        last = None
        for row in fetched:
            if row[0] != last:
                last = row[0]
                deadlines: list[dict[str, Any]] = []
                out.append(case_row(row, deadlines, tz))
            if row[width] is not None:  # a deadline (none: the LEFT JOIN found no clock)
                deadlines.append(deadline_row(row[width:], tz, memo))
        return out, fetched[0][-1]

    def count(self, cap: int) -> int:
        return self._count_source.order_by()[: cap + 1].count()


def queue_rows(queryset: QuerySet, filters: Mapping[str, Any]) -> CountedRows:
    """The case queue `queryset` (CaseViewSet.get_queryset, `filters` applied) as rows of its JSON: one
    written-out statement per page on PostgreSQL, the ORM (two statements) anywhere else."""
    written_out = connection.vendor in WRITTEN_OUT_VENDORS and not queryset.query.is_empty()
    where = _where(filters) if written_out else None
    if where is None:
        return QuerysetRows(queryset.values_list(*CASE_LIST_VALUES), queryset, shape=case_list_data)
    return CaseQueueRows(*where, count_source=queryset)
