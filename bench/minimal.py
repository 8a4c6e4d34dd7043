"""The bench's minimal rule X-B01 on orders: a state change and its audit event, nothing else.

Registered at run time in the bench processes only (never in core/rulebook.py): the per-row action
and the batch action do the same thing, so the engine's own overhead is what bench 1 measures.
"""

from __future__ import annotations

from core import rulebook
from core.services import event_record
from disputes.batch import events_record_many
from orders.models import Order

RULE = "X-B01"
TO_STATUS = "closed"


def register() -> None:
    rulebook.TIMERS[RULE] = rulebook.Timer(
        RULE,
        "bench_minimal",
        starts="bench",
        amount=0,
        calendar=rulebook.Calendar.HOURS,
        on_timeout="order closed (bench only)",
        source="bench",
        words="",
        action="bench.minimal.fire_one",
        batch_action="bench.minimal.fire_batch",
    )


def register_per_row_only() -> None:
    register()
    timer = rulebook.TIMERS[RULE]
    rulebook.TIMERS[RULE] = rulebook.Timer(**{**timer.__dict__, "batch_action": None})


def fire_one(*, deadline, subject: Order) -> str:
    previous = subject.status
    Order.objects.filter(pk=subject.pk).update(status=TO_STATUS)
    event_record(subject=subject, action="bench.closed", from_status=previous, to_status=TO_STATUS, data={"rule": RULE})
    return "closed"


def fire_batch(*, deadlines, subjects: dict[int, Order]) -> dict[int, str | None]:
    from django.utils import timezone

    ids = sorted(subjects)
    Order.objects.filter(pk__in=ids).update(status=TO_STATUS)
    events_record_many(
        events=[
            {
                "subject_kind": "order",
                "subject_id": d.subject_id,
                "action": "bench.closed",
                "from_status": subjects[d.subject_id].status,
                "to_status": TO_STATUS,
                "data": {"rule": RULE},
            }
            for d in deadlines
        ],
        at=timezone.now(),
    )
    return {d.pk: "closed" for d in deadlines}
