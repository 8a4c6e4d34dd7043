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
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any

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
AMOUNT_PLACES = 2
_AMOUNT = serializers.DecimalField(
    max_digits=12, decimal_places=AMOUNT_PLACES
)  # Case.refund_amount, Refund.amount, Order.total_amount
_SHIPPING_FEE = serializers.DecimalField(max_digits=10, decimal_places=2)  # Order.shipping_fee


def _when(value: dt.datetime | None, tz) -> str | None:
    """DRF's DateTimeField output: ISO 8601 in the current time zone, "Z" for UTC."""
    if not value:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


When = Callable[[Any], str | None]


def datetime_when(tz) -> When:
    """`_when` in `tz` for datetimes (model instances, the ORM's rows)."""
    return lambda value: _when(value, tz)


# Per time zone, the local text of a UTC minute "YYYY-MM-DD HH:MM": ("YYYY-MM-DDTHH:MM", offset), or ()
# where the offset changes within that minute or is not a whole number of minutes.
_LOCAL_MINUTES: dict[Any, dict[str, tuple[str, str] | tuple[()]]] = {}
_LOCAL_MINUTES_KEPT = 20_000  # per time zone; then forgotten at once (about 4 MB at most)
_MINUTE, _MICROSECOND = dt.timedelta(minutes=1), dt.timedelta(microseconds=1)


def _local_minute(head: str, tz, memo: dict[str, tuple[str, str] | tuple[()]]) -> tuple[str, str] | tuple[()]:
    try:
        start = dt.datetime.strptime(head, "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
        first, last = start.astimezone(tz), (start + _MINUTE - _MICROSECOND).astimezone(tz)
    except (ValueError, OverflowError):  # not a minute of ours: `when` parses the whole text instead
        local: tuple[str, str] | tuple[()] = ()
    else:
        offset = first.utcoffset()
        # A time zone changes its offset at most once in a minute: equal at both ends, constant within.
        if offset is None or offset != last.utcoffset() or offset % _MINUTE:
            local = ()
        else:
            text = first.isoformat()  # "YYYY-MM-DDTHH:MM:00+08:00"
            local = (text[:16], "Z" if text.endswith("+00:00") else text[19:])
    if len(memo) >= _LOCAL_MINUTES_KEPT:
        memo.clear()
    memo[head] = local
    return local


# Per time zone, the local text of each timestamp's text `when` gave (text_when): a page read again (the
# queue's first page, the same for every agent) costs a look-up per time.
_LOCAL_TEXTS: dict[Any, dict[str, str]] = {}
_LOCAL_TEXTS_KEPT = 20_000  # per time zone; then forgotten at once (about 4 MB at most)


def text_when(tz) -> When:
    """`_when` in `tz` for PostgreSQL's text of a timestamptz in a session in UTC (Django's, under
    USE_TZ): "2026-11-22 04:15:37.48+00" gives "2026-11-22T12:15:37.480000+08:00", as DRF would from
    the datetime. The local text of each UTC minute is worked out once per process and the seconds are
    copied (the offset being whole minutes): a page's 300 timestamps cost no datetime arithmetic, and
    each text done is kept (`_LOCAL_TEXTS`). Any other text (another session time zone, BC, infinity)
    is parsed and formatted by `_when`."""
    minutes = _LOCAL_MINUTES.setdefault(tz, {})
    texts = _LOCAL_TEXTS.setdefault(tz, {})

    def local_text(text: str) -> str | None:
        n = len(text)  # "YYYY-MM-DD HH:MM:SS+00" (22), or with ".f" … ".ffffff" (24 to 29)
        local = minutes.get(text[:16])
        if local is None:
            local = _local_minute(text[:16], tz, minutes)
        done = None
        if local and text[16:17] == ":" and text[n - 3 :] == "+00":
            if n == 22:
                done = local[0] + text[16:19] + local[1]  # no fraction: microsecond 0, which isoformat leaves out
            elif 24 <= n <= 29 and text[19] == ".":
                done = local[0] + text[16 : n - 3].ljust(10, "0") + local[1]  # PostgreSQL drops trailing zeros
        if done is None:  # not a UTC session's text of a minute of ours: parsed whole
            done = _when(dt.datetime.fromisoformat(text), tz)
        if len(texts) >= _LOCAL_TEXTS_KEPT:
            texts.clear()
        texts[text] = done  # type: ignore[assignment]
        return done

    def when(text: str | None) -> str | None:
        if text is None:
            return None
        done = texts.get(text)
        return done if done is not None else local_text(text)

    return when


def _rule_texts(rule: str, memo: dict[str, tuple[str, str]]) -> tuple[str, str]:
    texts = memo.get(rule)
    if texts is None:
        timer = rulebook.TIMERS.get(rule)
        texts = memo[rule] = (timer.words, timer.on_timeout) if timer else ("", "")
    return texts


def deadline_row(t: Sequence[Any], when: When, memo: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """One deadline as DeadlineSerializer gives it, from a tuple of DEADLINE_VALUES."""
    words, on_timeout = _rule_texts(t[3], memo)
    remaining = t[11]
    return {
        "id": t[0],
        "kind": t[2],
        "rule": t[3],
        "status": t[4],
        "started_at": when(t[5]),
        "due_at": when(t[6]),
        "duration": f"{t[7]} {t[8]}",
        "rule_words": words,
        "on_timeout": on_timeout,
        "note": t[9],
        "paused": t[10] is not None,
        "remaining": duration_string(remaining) if remaining is not None else None,
        "fired_at": when(t[12]),
        "fired_by": t[13],
        "outcome": t[14],
        "cancelled_at": when(t[15]),
        "cancel_reason": t[16],
    }


_deadline_values = attrgetter(*DEADLINE_VALUES)


def deadlines_data(deadlines: Iterable[Deadline]) -> list[dict[str, Any]]:
    """`DeadlineSerializer(deadlines, many=True).data`, without building a serializer."""
    when = datetime_when(timezone.get_current_timezone())
    memo: dict[str, tuple[str, str]] = {}
    return [deadline_row(_deadline_values(d), when, memo) for d in deadlines]


def case_row(t: Sequence[Any], deadlines: list[dict[str, Any]], when: When) -> dict[str, Any]:
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
        "opened_at": when(t[11]),
        "next_due_at": when(t[12]),
        "overdue": bool(t[13]),
        "suspended_at": when(t[14]),
        "ruled_at": when(t[15]),
        "outcome": t[16],
        "responsibility": t[17],
        # Text already where PostgreSQL printed it (disputes/case_queue.py); a Decimal from the ORM.
        "refund_amount": amount if amount is None or type(amount) is str else _AMOUNT.to_representation(amount),
        "created_at": when(t[19]),
        "updated_at": when(t[20]),
        "deadlines": deadlines,
    }


def case_list_data(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """`CaseSerializer(cases, many=True).data` from `.values_list(*CASE_LIST_VALUES)` rows, the page's
    deadlines read in one query (the ORM's way; PostgreSQL reads them with the page: disputes/case_queue.py)."""
    if not rows:
        return []
    when = datetime_when(timezone.get_current_timezone())
    memo: dict[str, tuple[str, str]] = {}
    by_subject: dict[int, list[dict[str, Any]]] = defaultdict(list)
    deadlines = (
        Deadline.objects.filter(subject_kind="case", subject_id__in=[r[0] for r in rows])
        .order_by("due_at", "id")
        .values_list(*DEADLINE_VALUES)
    )
    for d in deadlines:
        by_subject[d[1]].append(deadline_row(d, when, memo))
    return [case_row(r, by_subject.get(r[0], []), when) for r in rows]


def refund_data(refund: Refund) -> dict[str, Any]:
    """`RefundSerializer(refund).data` without building the serializer (POST refunds/'s 201). The
    refund's order and shop are read from the instance (select them with it), its case from the
    instance's cache or a query, its clocks as `deadlines_of` gives them."""
    when = datetime_when(timezone.get_current_timezone())
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
            "paid_at": when(order.paid_at),
            "shipped_at": when(order.shipped_at),
            "signed_at": when(order.signed_at),
            "completed_at": when(order.completed_at),
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
        "return_shipped_at": when(refund.return_shipped_at),
        "return_rejection_reason": str(refund.return_rejection_reason),
        "return_freight_payer": freight.payer,
        "return_freight_note": freight.note,
        "express": bool(refund.express),
        "refunded_amount": _AMOUNT.to_representation(refund.refunded_amount),
        "refunded_at": when(refund.refunded_at),
        "closed_at": when(refund.closed_at),
        "close_reason": str(refund.close_reason),
        "case": case.pk if case is not None else None,
        "created_at": when(refund.created_at),
        "updated_at": when(refund.updated_at),
        "deadlines": deadlines_data(deadlines_of(refund)),
    }
