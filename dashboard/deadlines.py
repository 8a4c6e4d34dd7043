"""How a deadline is shown: its due time, what is left, its colour, and why it is what it is (the rule
id, the rule's own words and the duration the row was computed with, RULEBOOK §2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from core import rulebook
from disputes.models import Case, Deadline
from disputes.selectors import deadlines_attach

AMBER_BELOW = dt.timedelta(hours=24)

UNIT_LABELS = {
    "hours": "小时",
    "days": "天",
    "working_days": "个工作日",
    "days_from_next_china_midnight": "天(自次日零时起)",
}


@dataclass(frozen=True)
class DeadlineView:
    pk: int
    rule: str
    kind: str
    words: str
    due_at: dt.datetime
    started_at: dt.datetime
    status: str
    paused: bool
    remaining: dt.timedelta
    state: str  # ok | amber | red | paused | done
    text: str
    duration: str
    note: str


def span_text(seconds: int) -> str:
    """'2天 3小时 5分' (or its English) for a span of whole seconds; the vendored countdown.js writes the
    same format."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(_("%(n)d天") % {"n": days})
    if days or hours:
        parts.append(_("%(n)d小时") % {"n": hours})
    parts.append(_("%(n)d分") % {"n": minutes})
    return " ".join(parts)


def humanize(delta: dt.timedelta) -> str:
    """'剩余 2天 3小时 5分' for time left, '已超时 …' for time past (or their English)."""
    text = span_text(int(abs(delta.total_seconds())))
    return _("已超时 %(t)s") % {"t": text} if delta.total_seconds() < 0 else _("剩余 %(t)s") % {"t": text}


def state_and_text(
    *, status: str, paused: bool, remaining: dt.timedelta | None, due_at: dt.datetime, now: dt.datetime
) -> tuple[dt.timedelta, str, str]:
    """(time left, state, text) of a deadline: the one place that decides its colour and words, for
    the full view (`deadline_view`) and the queue row (`row_deadline`) alike."""
    if status != Deadline.Status.PENDING:
        text = _("已触发") if status == Deadline.Status.FIRED else _("已取消")
        return dt.timedelta(0), "done", text
    if paused:
        left = remaining or dt.timedelta(0)
        return left, "paused", _("已暂停 (R-T19),剩余 %(t)s") % {"t": humanize(left)}
    left = due_at - now
    state = "red" if left.total_seconds() < 0 else ("amber" if left < AMBER_BELOW else "ok")
    return left, state, humanize(left)


def deadline_view(deadline: Deadline, now: dt.datetime | None = None) -> DeadlineView:
    now = now or timezone.now()
    timer = rulebook.TIMERS.get(deadline.rule)
    words = timer.words if timer else ""
    unit = _(UNIT_LABELS.get(deadline.duration_unit, deadline.duration_unit))
    remaining, state, text = state_and_text(
        status=deadline.status,
        paused=deadline.paused_at is not None,
        remaining=deadline.remaining,
        due_at=deadline.due_at,
        now=now,
    )
    return DeadlineView(
        pk=deadline.pk,
        rule=deadline.rule,
        kind=deadline.kind,
        words=words,
        due_at=deadline.due_at,
        started_at=deadline.started_at,
        status=deadline.status,
        paused=deadline.paused_at is not None,
        remaining=remaining,
        state=state,
        text=text,
        duration=f"{deadline.duration_amount} {unit}",
        note=deadline.note,
    )


def pending(deadlines: Iterable[Deadline]) -> list[Deadline]:
    return [d for d in deadlines if d.status == Deadline.Status.PENDING]


class _Pending(Protocol):
    """What `first_due` reads of a pending deadline: a Deadline or a PendingDeadline."""

    @property
    def pk(self) -> int: ...
    @property
    def due_at(self) -> dt.datetime: ...
    @property
    def paused_at(self) -> dt.datetime | None: ...


def first_due[D: _Pending](rows: Sequence[D]) -> D | None:
    """Of pending deadlines, the running (not paused) one due first; a paused one if nothing runs."""
    running = [d for d in rows if d.paused_at is None]
    rows = running or rows
    return min(rows, key=lambda d: (d.due_at, d.pk)) if rows else None


def nearest(deadlines: Iterable[Deadline]) -> Deadline | None:
    """The running (not paused) pending deadline due first; a paused one if nothing runs."""
    return first_due(pending(deadlines))


def attach_case_deadlines(cases: Sequence[Case]) -> None:
    """Give every case `_all_deadlines` (its own and its refund's or complaint's) and `next_deadline`,
    in three queries whatever the number of cases."""
    deadlines_attach(list(cases))
    refunds = [c.refund for c in cases if c.refund_id and c.refund is not None]
    complaints = [c.complaint for c in cases if c.complaint_id and c.complaint is not None]
    deadlines_attach(refunds)
    deadlines_attach(complaints)
    for case in cases:
        subject: models.Model | None = case.refund if case.refund_id else case.complaint
        own = list(getattr(case, "_deadlines", []))
        theirs = list(getattr(subject, "_deadlines", [])) if subject is not None else []
        case._all_deadlines = sorted(own + theirs, key=lambda d: (d.due_at, d.pk))  # type: ignore[attr-defined]
        case.next_deadline = nearest(case._all_deadlines)  # type: ignore[attr-defined]


def attach_next_deadline(objects: Sequence[models.Model]) -> None:
    """Refunds or complaints: `_deadlines` (one query) and `next_deadline`."""
    deadlines_attach(list(objects))
    for obj in objects:
        obj.next_deadline = nearest(getattr(obj, "_deadlines", []))  # type: ignore[attr-defined]


def suspension_of(case: Case) -> dict | None:
    """R-T19 on the case page: since when the case is suspended, how many clocks are paused, and when the
    suspension period ends (the clocks then resume by themselves). None when the case runs."""
    if case.suspended_at is None:
        return None
    rows = pending(getattr(case, "_all_deadlines", []))
    period = next((d for d in rows if d.rule == "R-T19"), None)
    return {
        "since": case.suspended_at,
        "paused": sum(1 for d in rows if d.paused_at is not None),
        "resumes_at": period.due_at if period is not None else None,
    }


class PendingDeadline(NamedTuple):
    """The columns of a pending deadline that a queue row needs (`next_deadline_of_cases`): reading
    these as tuples instead of Deadline instances is most of what the queue's deadlines cost in Python
    (issue #9)."""

    pk: int
    subject_kind: str
    subject_id: int
    rule: str
    due_at: dt.datetime
    paused_at: dt.datetime | None
    remaining: dt.timedelta | None


PENDING_DEADLINE_FIELDS = ("id", "subject_kind", "subject_id", "rule", "due_at", "paused_at", "remaining")


@dataclass(frozen=True, slots=True)
class RowDeadline:
    """What a queue row shows of its deadline (the names are DeadlineView's)."""

    rule: str
    words: str
    due_at: dt.datetime
    state: str  # ok | amber | red | paused
    text: str


def row_deadline(deadline: PendingDeadline, now: dt.datetime) -> RowDeadline:
    """The queue row's view of a pending deadline: the same state and text as `deadline_view`."""
    timer = rulebook.TIMERS.get(deadline.rule)
    _left, state, text = state_and_text(
        status=Deadline.Status.PENDING,
        paused=deadline.paused_at is not None,
        remaining=deadline.remaining,
        due_at=deadline.due_at,
        now=now,
    )
    return RowDeadline(
        rule=deadline.rule, words=timer.words if timer else "", due_at=deadline.due_at, state=state, text=text
    )


def next_deadline_of_cases(cases: Sequence[Mapping[str, Any]]) -> dict[int, PendingDeadline | None]:
    """The deadline a queue row shows (`nearest` of the case's and its refund's or complaint's pending
    deadlines), by case id, in one query whatever the number of cases: only pending rows are read, the
    others never count.

    `cases` are the queue's rows as dicts (`queue_page.ROW_FIELDS`: "id", "refund_id", "complaint_id"),
    not Case instances: the page reads them with `.values()`."""
    if not cases:
        return {}
    refund_ids = [c["refund_id"] for c in cases if c["refund_id"]]
    complaint_ids = [c["complaint_id"] for c in cases if c["complaint_id"]]
    subjects = models.Q(subject_kind="case", subject_id__in=[c["id"] for c in cases])
    if refund_ids:
        subjects |= models.Q(subject_kind="refund", subject_id__in=refund_ids)
    if complaint_ids:
        subjects |= models.Q(subject_kind="complaint", subject_id__in=complaint_ids)
    by_subject: dict[tuple[str, int], list[PendingDeadline]] = {}
    pending_rows = Deadline.objects.filter(subjects, status=Deadline.Status.PENDING).values_list(
        *PENDING_DEADLINE_FIELDS
    )
    for row in pending_rows:
        deadline = PendingDeadline(*row)
        by_subject.setdefault((deadline.subject_kind, deadline.subject_id), []).append(deadline)
    result: dict[int, PendingDeadline | None] = {}
    for case in cases:
        rows = by_subject.get(("case", case["id"]), [])
        if case["refund_id"]:
            rows = rows + by_subject.get(("refund", case["refund_id"]), [])
        elif case["complaint_id"]:
            rows = rows + by_subject.get(("complaint", case["complaint_id"]), [])
        result[case["id"]] = first_due(rows)
    return result
