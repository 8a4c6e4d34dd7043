"""Hand-written JSON shapes for the hot paths (issue #9, bench 4 and 5).

DRF builds a ModelSerializer's fields on every instantiation, and `DeadlineSerializer(many=True)`
was instantiated once per row of a list: most of a queue page's server time. These functions give
exactly what `DeadlineSerializer`, `CaseSerializer` and `RefundSerializer` give (same keys in the
same order, same strings), from model instances or from `.values()` rows, with nothing per row but
the values.
tests/disputes/test_representation.py checks the equality against the serializers on varied rows,
so a field added to a serializer and not here fails a test.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.duration import duration_string
from rest_framework import serializers

from core import rulebook

from .models import Deadline, Refund
from .selectors import deadlines_of
from .services.refunds import refund_freight_payer

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

# Built once: DRF's DecimalField output (quantized, as a string) without a field per row.
_AMOUNT = serializers.DecimalField(
    max_digits=12, decimal_places=2
)  # Case.refund_amount, Refund.amount, Order.total_amount
_SHIPPING_FEE = serializers.DecimalField(max_digits=10, decimal_places=2)  # Order.shipping_fee


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


def deadline_row(row: Mapping[str, Any], tz, memo: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """One deadline as DeadlineSerializer gives it, from a mapping of DEADLINE_VALUES."""
    words, on_timeout = _rule_texts(row["rule"], memo)
    remaining = row["remaining"]
    return {
        "id": row["id"],
        "kind": row["kind"],
        "rule": row["rule"],
        "status": row["status"],
        "started_at": _when(row["started_at"], tz),
        "due_at": _when(row["due_at"], tz),
        "duration": f"{row['duration_amount']} {row['duration_unit']}",
        "rule_words": words,
        "on_timeout": on_timeout,
        "note": row["note"],
        "paused": row["paused_at"] is not None,
        "remaining": duration_string(remaining) if remaining is not None else None,
        "fired_at": _when(row["fired_at"], tz),
        "fired_by": row["fired_by"],
        "outcome": row["outcome"],
        "cancelled_at": _when(row["cancelled_at"], tz),
        "cancel_reason": row["cancel_reason"],
    }


def deadlines_data(deadlines: Iterable[Deadline]) -> list[dict[str, Any]]:
    """`DeadlineSerializer(deadlines, many=True).data`, without building a serializer."""
    tz = timezone.get_current_timezone()
    memo: dict[str, tuple[str, str]] = {}
    return [deadline_row({f: getattr(d, f) for f in DEADLINE_VALUES}, tz, memo) for d in deadlines]


def _deadline_rows_by_subject(kind: str, ids: Sequence[int], tz) -> dict[int, list[dict[str, Any]]]:
    """The pending and past clocks of many subjects in one query, each subject's in (due_at, id) order."""
    memo: dict[str, tuple[str, str]] = {}
    by_subject: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if connection.vendor == "postgresql":
        # Written out: the ORM spent longer building this statement (an IN of 50 ids) than PostgreSQL
        # spends running it. psycopg2 returns the values .values() would (aware datetimes, timedeltas).
        with connection.cursor() as cursor:
            cursor.execute(_DEADLINES_SQL, [kind, list(ids)])
            rows: Iterable[Mapping[str, Any]] = [dict(zip(DEADLINE_VALUES, r, strict=True)) for r in cursor.fetchall()]
    else:
        rows = (
            Deadline.objects.filter(subject_kind=kind, subject_id__in=ids)
            .order_by("due_at", "id")
            .values(*DEADLINE_VALUES)
        )
    for row in rows:
        by_subject[row["subject_id"]].append(deadline_row(row, tz, memo))
    return by_subject


_DEADLINES_SQL = (
    f"SELECT {', '.join(DEADLINE_VALUES)} FROM {Deadline._meta.db_table} "  # noqa: S608 (constant names)
    "WHERE subject_kind = %s AND subject_id = ANY(%s) ORDER BY due_at, id"
)


def case_list_data(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`CaseSerializer(cases, many=True).data` from `.values(*CASE_LIST_VALUES)` rows, the page's
    deadlines read in one query."""
    if not rows:
        return []
    tz = timezone.get_current_timezone()
    deadlines = _deadline_rows_by_subject("case", [r["id"] for r in rows], tz)
    out = []
    for r in rows:
        amount = r["refund_amount"]
        assignee = r["assignee__username"]
        out.append(
            {
                "id": r["id"],
                "kind": r["kind"],
                "status": r["status"],
                "refund": r["refund_id"],
                "complaint": r["complaint_id"],
                "order": r["order_id"],
                "shop": r["shop_id"],
                "shop_name": str(r["shop__name"]),
                "buyer": r["buyer_id"],
                "assignee": r["assignee_id"],
                "assignee_name": str(assignee) if assignee is not None else None,
                "opened_at": _when(r["opened_at"], tz),
                "next_due_at": _when(r["next_due_at"], tz),
                "overdue": bool(r["overdue"]),
                "suspended_at": _when(r["suspended_at"], tz),
                "ruled_at": _when(r["ruled_at"], tz),
                "outcome": r["outcome"],
                "responsibility": r["responsibility"],
                "refund_amount": _AMOUNT.to_representation(amount) if amount is not None else None,
                "created_at": _when(r["created_at"], tz),
                "updated_at": _when(r["updated_at"], tz),
                "deadlines": deadlines.get(r["id"], []),
            }
        )
    return out


def refund_data(refund: Refund) -> dict[str, Any]:
    """`RefundSerializer(refund).data` without building the serializer (POST refunds/'s 201). The
    refund's order and shop are read from the instance (select them with it), its case from the
    instance's cache or a query, its clocks as `deadlines_of` gives them."""
    tz = timezone.get_current_timezone()
    order = refund.order
    freight = getattr(refund, "_freight", None)
    if freight is None:  # as RefundSerializer._freight: computed once per instance
        freight = refund._freight = refund_freight_payer(refund)  # type: ignore[attr-defined]
    case = getattr(refund, "case", None)
    return {
        "id": refund.pk,
        "order": {
            "id": order.pk,
            "status": str(order.status),
            "total_amount": _AMOUNT.to_representation(order.total_amount),
            "shipping_fee": _SHIPPING_FEE.to_representation(order.shipping_fee),
            "free_shipping": bool(order.free_shipping),
            "paid_at": _when(order.paid_at, tz),
            "shipped_at": _when(order.shipped_at, tz),
            "signed_at": _when(order.signed_at, tz),
            "completed_at": _when(order.completed_at, tz),
        },
        "shop": refund.shop_id,
        "shop_name": str(refund.shop.name),
        "buyer": refund.buyer_id,
        "created_by": refund.created_by_id,
        "kind": str(refund.kind),
        "reason": str(refund.reason),
        "stage": str(refund.stage),
        "amount": _AMOUNT.to_representation(refund.amount),
        "description": str(refund.description),
        "status": str(refund.status),
        "refusal_count": int(refund.refusal_count),
        "refusal_reason": str(refund.refusal_reason),
        "return_address": str(refund.return_address),
        "return_carrier": str(refund.return_carrier),
        "return_tracking_number": str(refund.return_tracking_number),
        "return_shipped_at": _when(refund.return_shipped_at, tz),
        "return_rejection_reason": str(refund.return_rejection_reason),
        "return_freight_payer": freight.payer,
        "return_freight_note": freight.note,
        "express": bool(refund.express),
        "refunded_amount": _AMOUNT.to_representation(refund.refunded_amount),
        "refunded_at": _when(refund.refunded_at, tz),
        "closed_at": _when(refund.closed_at, tz),
        "close_reason": str(refund.close_reason),
        "case": case.pk if case is not None else None,
        "created_at": _when(refund.created_at, tz),
        "updated_at": _when(refund.updated_at, tz),
        "deadlines": deadlines_data(deadlines_of(refund)),
    }
