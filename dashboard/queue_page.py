"""The queue page at size (issue #9, bench 5): a page of 50 cases out of a million in a few queries and
a few milliseconds of rendering.

- The page reads only the columns the table shows (the case, its shop's name, buyer's and assignee's
  usernames, its evidence completeness): no join with the order, refund or complaint, whose planning
  alone cost PostgreSQL ~20 ms.
- The capped count runs without the queue's ORDER BY (the number is the same; PostgreSQL stops after
  10,001 rows in whatever order is cheapest) and is cached per filter for a few seconds.
- The deadline each row shows comes from one query over the pending deadlines of the page's cases and
  of their refunds or complaints.
- The page's cases are read with `.values()` and their deadlines with `values_list` (only the
  columns a row shows): no model instances, which cost more Python than the queries' PostgreSQL time.
- Rows are plain values computed once in Python (labels translated once per page, the deadline's
  countdown, colour and rule words), so the template only prints them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import EmptyPage, Page
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.paginators import CappedCountPaginator
from disputes.models import Case

from .deadlines import RowDeadline, next_deadline_of_cases, row_deadline

QUEUE_PAGE_SIZE = 50
COUNTING_STATES = ("ok", "amber", "red")  # the states whose countdown dashboard.js ticks
# What a row reads (the keys of the dicts `page_queryset` yields), in the page's one query.
ROW_FIELDS = (
    "id",
    "kind",
    "status",
    "overdue",
    "refund_id",
    "complaint_id",
    "shop__name",
    "buyer__username",
    "assignee__username",
    "evidence_status__percent",
)
COUNT_KEY_PARAMS = ("view", "status", "kind", "shop", "assignee", "q")


def count_cache_seconds() -> float:
    """How long a filter's capped count is reused (docs/DECISIONS.md); 0 turns the cache off."""
    return float(getattr(settings, "DASHBOARD_QUEUE_COUNT_CACHE_SECONDS", 5))


def count_cache_key(user, params: Mapping[str, str], *, awaiting_ruling: bool) -> str:
    """One key per filter (and per user for "mine", the only view that depends on who asks)."""
    parts = [f"{name}={params.get(name, '')}" for name in COUNT_KEY_PARAMS]
    parts.append(f"ruling={int(awaiting_ruling)}")
    if params.get("view") == "mine":
        parts.append(f"user={user.pk}")
    digest = hashlib.sha256("&".join(parts).encode()).hexdigest()[:32]
    return f"dashboard:queue_count:v1:{digest}"


class QueuePaginator(CappedCountPaginator):
    """The capped count without ORDER BY, reused for `cache_seconds` under `cache_key`.

    The rows never depend on the cached count: a page is always `per_page` rows from its offset, read
    fresh. A short page tells the exact count (it is corrected without a query); a full page or a page
    number beyond a cached count that contradicts it makes the count be read again. What a cached count
    can still get wrong, for `cache_seconds`, is a change after the current page: the caption, the
    number of pages and the next link."""

    def __init__(self, object_list, per_page, *, cache_key: str = "", cache_seconds: float = 0) -> None:
        super().__init__(object_list, per_page)
        self.cache_key = cache_key if cache_seconds > 0 else ""
        self.cache_seconds = cache_seconds
        self.count_from_cache = False

    @cached_property
    def count(self) -> int:
        if self.cache_key:
            cached = cache.get(self.cache_key)
            if cached is not None:
                self.count_from_cache = True
                return int(cached)
        return self._count_now()

    def _count_now(self) -> int:
        n = self.object_list.order_by()[: self.CAP + 1].count()  # type: ignore[attr-defined]
        self._set_count(n)
        return n

    def _set_count(self, n: int) -> None:
        self.__dict__["count"] = n
        self.__dict__.pop("num_pages", None)
        self.__dict__.pop("page_range", None)
        self.count_from_cache = False
        if self.cache_key:
            cache.set(self.cache_key, n, self.cache_seconds)

    def validate_number(self, number) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            if not self.count_from_cache:
                raise
            self._count_now()  # the cached count may be behind: ask again before refusing the page
            return super().validate_number(number)

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page])
        if not rows and bottom and self.count_from_cache:
            self._count_now()  # the cached count was ahead: the last page as it is now
            return self.page(min(number, self.num_pages))
        if len(rows) < self.per_page and (rows or bottom == 0):
            exact = min(bottom + len(rows), self.CAP + 1)  # the last page: the count is known
            if exact != self.count:
                self._set_count(exact)
        elif self.count <= self.CAP and self.count < bottom + len(rows):
            self._count_now()  # more rows than the cached count says
        return Page(rows, number, self)


def page_queryset(qs: QuerySet[Case]) -> QuerySet[Case, dict[str, Any]]:
    """The queue's queryset narrowed to what the table shows, as dicts (ROW_FIELDS): the same one query
    (joined with the shop, buyer, assignee and evidence status) without building five model instances
    per row. The queue's order and filters are kept; QueuePaginator slices and counts it as before."""
    return qs.select_related(None).values(*ROW_FIELDS)


@dataclass(frozen=True, slots=True)
class QueueRow:
    pk: int
    url: str
    select_label: str
    overdue: bool
    deadline: RowDeadline | None
    counting: bool  # the countdown ticks in the browser
    due_iso: str
    due_local: str  # "Y-m-d H:i" in the current time zone
    kind_status: str
    shop: str
    buyer: str
    assignee: str
    percent: int | None


def queue_rows(cases: Sequence[Mapping[str, Any]], *, now: dt.datetime | None = None) -> list[QueueRow]:
    """What each row of the queue table prints (one query: the page's deadlines). `cases` are the dicts
    of `page_queryset` (ROW_FIELDS), for /queue/ and /arbitration/ alike."""
    now = now or timezone.now()
    nearest = next_deadline_of_cases(cases)
    kinds = dict(translated(Case.Kind.choices))
    statuses = dict(translated(Case.Status.choices))
    select_label = _("选择案件 %(id)s")
    url_marker = 2_147_483_647
    url_pattern = reverse("dashboard:case", args=[url_marker]).replace(str(url_marker), "{}")
    rows = []
    for case in cases:
        pk = case["id"]
        deadline = nearest.get(pk)
        view = row_deadline(deadline, now) if deadline is not None else None
        rows.append(
            QueueRow(
                pk=pk,
                url=url_pattern.format(pk),
                select_label=select_label % {"id": pk},
                overdue=case["overdue"],
                deadline=view,
                counting=view is not None and view.state in COUNTING_STATES,
                due_iso=view.due_at.isoformat() if view else "",
                due_local=timezone.localtime(view.due_at).strftime("%Y-%m-%d %H:%M") if view else "",
                kind_status=f"{kinds.get(case['kind'], case['kind'])} · {statuses.get(case['status'], case['status'])}",
                shop=case["shop__name"],
                buyer=case["buyer__username"],
                assignee=case["assignee__username"] or "—",
                percent=case["evidence_status__percent"],  # None: no evidence status row
            )
        )
    return rows


def translated(choices) -> list[tuple[str, str]]:
    """Model choices with their labels translated (what the `tr` filter did per option)."""
    return [(value, _(str(label))) for value, label in choices]


def options(choices, selected: str) -> list[tuple[str, str, bool]]:
    """(value, label, selected) for a select whose current value is the query parameter `selected`."""
    return [(str(value), label, str(value) == selected) for value, label in choices]
