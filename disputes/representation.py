"""Hand-written JSON shapes for the hot read paths (issue #9, bench 4 and 5).

DRF builds a ModelSerializer's fields on every instantiation, and `DeadlineSerializer(many=True)`
was instantiated once per row of a list: most of a queue page's server time. These functions give
exactly what `DeadlineSerializer` and `CaseSerializer` give (same keys in the same order, same
strings), from model instances or from `.values()` rows, with nothing per row but the values.
tests/disputes/test_representation.py checks the equality against the serializers on varied rows,
so a field added to a serializer and not here fails a test.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from django.utils import timezone
from django.utils.duration import duration_string
from rest_framework import serializers

from core import rulebook

from .models import Deadline

# The columns a deadline's JSON needs (everything but the sweeper's own bookkeeping).
DEADLINE_VALUES = (
    "id",
    "subject_id",
    "kind",
    "rule",
    "status",
    "started_at",
    "due_at",
    "duration_amount",
    "duration_unit",
    "note",
    "paused_at",
    "remaining",
    "fired_at",
    "fired_by",
    "outcome",
    "cancelled_at",
    "cancel_reason",
)

# GET cases/: the case's own columns plus the two names the list shows; no model instance per row.
CASE_LIST_VALUES = (
    "id",
    "kind",
    "status",
    "refund_id",
    "complaint_id",
    "order_id",
    "shop_id",
    "shop__name",
    "buyer_id",
    "assignee_id",
    "assignee__username",
    "opened_at",
    "next_due_at",
    "overdue",
    "suspended_at",
    "ruled_at",
    "outcome",
    "responsibility",
    "refund_amount",
    "created_at",
    "updated_at",
)

_CASE_REFUND_AMOUNT = serializers.DecimalField(max_digits=12, decimal_places=2)  # Case.refund_amount


def _when(value: dt.datetime | None, tz) -> str | None:
    """DRF's DateTimeField output: ISO 8601 in the current time zone, "Z" for UTC."""
    if not value:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _rule_texts(rule: str, memo: dict[str, tuple[str, str]]) -> tuple[str, str]:
    texts = memo.get(rule)
    if texts is None:
        timer = rulebook.TIMERS.get(rule)
        texts = memo[rule] = (timer.words, timer.on_timeout) if timer else ("", "")
    return texts


def deadline_row(t: Sequence[Any], tz, memo: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """One deadline as DeadlineSerializer gives it, from a tuple of DEADLINE_VALUES."""
    words, on_timeout = _rule_texts(t[3], memo)
    remaining = t[11]
    return {
        "id": t[0],
        "kind": t[2],
        "rule": t[3],
        "status": t[4],
        "started_at": _when(t[5], tz),
        "due_at": _when(t[6], tz),
        "duration": f"{t[7]} {t[8]}",
        "rule_words": words,
        "on_timeout": on_timeout,
        "note": t[9],
        "paused": t[10] is not None,
        "remaining": duration_string(remaining) if remaining is not None else None,
        "fired_at": _when(t[12], tz),
        "fired_by": t[13],
        "outcome": t[14],
        "cancelled_at": _when(t[15], tz),
        "cancel_reason": t[16],
    }


_deadline_values = attrgetter(*DEADLINE_VALUES)


def deadlines_data(deadlines: Iterable[Deadline]) -> list[dict[str, Any]]:
    """`DeadlineSerializer(deadlines, many=True).data`, without building a serializer."""
    tz = timezone.get_current_timezone()
    memo: dict[str, tuple[str, str]] = {}
    return [deadline_row(_deadline_values(d), tz, memo) for d in deadlines]


def case_row(t: Sequence[Any], deadlines: list[dict[str, Any]], tz) -> dict[str, Any]:
    """One case as CaseSerializer gives it, from a tuple of CASE_LIST_VALUES and its deadlines' JSON."""
    amount = t[18]
    assignee = t[10]
    return {
        "id": t[0],
        "kind": t[1],
        "status": t[2],
        "refund": t[3],
        "complaint": t[4],
        "order": t[5],
        "shop": t[6],
        "shop_name": str(t[7]),
        "buyer": t[8],
        "assignee": t[9],
        "assignee_name": str(assignee) if assignee is not None else None,
        "opened_at": _when(t[11], tz),
        "next_due_at": _when(t[12], tz),
        "overdue": bool(t[13]),
        "suspended_at": _when(t[14], tz),
        "ruled_at": _when(t[15], tz),
        "outcome": t[16],
        "responsibility": t[17],
        "refund_amount": _CASE_REFUND_AMOUNT.to_representation(amount) if amount is not None else None,
        "created_at": _when(t[19], tz),
        "updated_at": _when(t[20], tz),
        "deadlines": deadlines,
    }


def case_list_data(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """`CaseSerializer(cases, many=True).data` from `.values_list(*CASE_LIST_VALUES)` rows, the page's
    deadlines read in one query (the ORM's way; PostgreSQL reads them with the page: disputes/case_queue.py)."""
    if not rows:
        return []
    tz = timezone.get_current_timezone()
    memo: dict[str, tuple[str, str]] = {}
    by_subject: dict[int, list[dict[str, Any]]] = defaultdict(list)
    deadlines = (
        Deadline.objects.filter(subject_kind="case", subject_id__in=[r[0] for r in rows])
        .order_by("due_at", "id")
        .values_list(*DEADLINE_VALUES)
    )
    for d in deadlines:
        by_subject[d[1]].append(deadline_row(d, tz, memo))
    return [case_row(r, by_subject.get(r[0], []), tz) for r in rows]
