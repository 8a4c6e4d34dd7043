"""The deadline engine: schedule, cancel, pause and resume clocks, and sweep the due ones.

A sweep claims due rows in batches with `SELECT … FOR UPDATE SKIP LOCKED` and leases them
(`not_before = now + lease`), so concurrent sweepers on any number of machines take disjoint rows.
Each claimed row then fires in its own transaction: the subject is locked first, then the deadline
row, whose status is checked again, so a deadline fires at most once even if two sweepers meet; the
action and the `fired` mark commit together, so it fires at least once. A worker killed mid-batch
loses nothing: its unfired rows come back when their lease runs out. A failing action rolls back,
records its error and is retried after a back-off without holding up the rest.

Lock order everywhere is subject, then deadline: services that cancel deadlines lock their subject
first, so the sweeper and the API never deadlock.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from core import rulebook
from core.calendar import compute_due

from .models import Deadline

logger = logging.getLogger(__name__)

# Which model a deadline's subject_kind names.
SUBJECT_MODELS = {
    "order": "orders.Order",
    "refund": "disputes.Refund",
    "complaint": "disputes.Complaint",
    "case": "disputes.Case",
    "sanction": "penalties.Sanction",  # R-P11: a sanction's end
}


def subject_kind_of(subject: models.Model) -> str:
    return subject._meta.model_name or ""


def _subject_filter(subjects: Iterable[models.Model]) -> Q:
    q = Q(pk__in=[])
    by_kind: dict[str, list[int]] = {}
    for subject in subjects:
        by_kind.setdefault(subject_kind_of(subject), []).append(subject.pk)
    for kind, ids in by_kind.items():
        q |= Q(subject_kind=kind, subject_id__in=ids)
    return q


# --- scheduling ---------------------------------------------------------------------------------


def deadline_schedule(
    *,
    subject: models.Model,
    rule_id: str,
    start: dt.datetime,
    variant: str | None = None,
    due_at: dt.datetime | None = None,
    amount: int | None = None,
    unit: str | None = None,
    note: str = "",
    kind: str | None = None,
) -> Deadline:
    """Start the clock of rule `rule_id` on `subject` at `start`.

    By default the due time is the rulebook's duration in its calendar; a caller with a different
    basis (a presale date, a shop's promise) passes `due_at` or `amount`/`unit` and says so in `note`.
    """
    timer = rulebook.timer(rule_id)
    if amount is None:
        amount = timer.duration(variant)
    unit = unit or timer.calendar.value
    if due_at is None:
        due_at, calendar_note = compute_due(start, amount, unit)
        note = "; ".join(n for n in (note, calendar_note) if n)
    return Deadline.objects.create(
        subject_kind=subject_kind_of(subject),
        subject_id=subject.pk,
        rule=timer.id,
        kind=kind or timer.kind,
        started_at=start,
        due_at=due_at,
        duration_amount=amount,
        duration_unit=unit,
        note=note[:200],
    )


def deadline_cancel(
    *, subject: models.Model, reason: str, kinds: Sequence[str] | None = None, at: dt.datetime | None = None
) -> int:
    """Cancel the pending deadlines of `subject` (all, or those of `kinds`): its subject moved on."""
    qs = Deadline.objects.filter(
        subject_kind=subject_kind_of(subject), subject_id=subject.pk, status=Deadline.Status.PENDING
    )
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    return qs.update(
        status=Deadline.Status.CANCELLED, cancelled_at=at or timezone.now(), cancel_reason=reason[:200], not_before=None
    )


def deadline_mark_fired(*, deadline: Deadline, by: str, outcome: str = "") -> None:
    """Record that `deadline` fired. The caller holds the row lock and checked it was pending."""
    deadline.status = Deadline.Status.FIRED
    deadline.fired_at = timezone.now()
    deadline.fired_by = by
    deadline.outcome = outcome[:200]
    deadline.not_before = None
    deadline.save(update_fields=["status", "fired_at", "fired_by", "outcome", "not_before"])


def deadlines_pause(*, subjects: Iterable[models.Model], at: dt.datetime, kinds: Sequence[str] | None = None) -> int:
    """R-T19: stop the pending clocks of `subjects` (all, or those of `kinds`), keeping the time each had left."""
    qs = Deadline.objects.select_for_update().filter(
        _subject_filter(subjects), status=Deadline.Status.PENDING, paused_at__isnull=True
    )
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    rows = list(qs.only("id", "due_at"))
    for row in rows:
        row.remaining = max(row.due_at - at, dt.timedelta(0))
        row.paused_at = at
    Deadline.objects.bulk_update(rows, ["remaining", "paused_at"])
    return len(rows)


def deadlines_resume(*, subjects: Iterable[models.Model], at: dt.datetime, kinds: Sequence[str] | None = None) -> int:
    """R-T19: restart the paused clocks of `subjects` (all, or those of `kinds`) with the time they had left."""
    qs = Deadline.objects.select_for_update().filter(
        _subject_filter(subjects), status=Deadline.Status.PENDING, paused_at__isnull=False
    )
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    rows = list(qs.only("id", "remaining"))
    for row in rows:
        row.due_at = at + (row.remaining or dt.timedelta(0))
        row.paused_at = None
        row.remaining = None
    Deadline.objects.bulk_update(rows, ["due_at", "paused_at", "remaining"])
    return len(rows)


# --- sweeping -----------------------------------------------------------------------------------


def due_deadlines(now: dt.datetime):
    """Pending, unpaused, due at or before `now`, and neither leased nor backing off."""
    return Deadline.objects.filter(status=Deadline.Status.PENDING, paused_at__isnull=True, due_at__lte=now).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )


def deadlines_claim(*, now: dt.datetime, limit: int) -> list[int]:
    """Claim up to `limit` due deadlines for this worker: lock-free for others (SKIP LOCKED), leased."""
    lease = dt.timedelta(seconds=settings.DEADLINE_SWEEP_INTERVAL_SECONDS * 2)
    with transaction.atomic():
        ids = list(
            due_deadlines(now)
            .order_by("due_at")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            Deadline.objects.filter(id__in=ids).update(not_before=timezone.now() + lease)
    return ids


def deadline_fire(*, deadline_id: int, by: str = "sweep") -> bool:
    """Fire one deadline through its rule's timeout action, in its own transaction. True if fired."""
    head = Deadline.objects.filter(id=deadline_id).values("subject_kind", "subject_id", "rule").first()
    if head is None:
        return False
    timer = rulebook.timer(head["rule"])
    model = apps.get_model(SUBJECT_MODELS[head["subject_kind"]])
    with transaction.atomic():
        # Lock order: the order first (every service does the same), then the subject, then the deadline.
        if head["subject_kind"] != "order" and any(f.name == "order" for f in model._meta.fields):
            order_id = model.objects.filter(pk=head["subject_id"]).values_list("order_id", flat=True).first()
            if order_id is not None:
                list(apps.get_model("orders.Order").objects.select_for_update().filter(pk=order_id).values("id"))
        subject = model.objects.select_for_update().filter(pk=head["subject_id"]).first()
        deadline = Deadline.objects.select_for_update().get(id=deadline_id)
        if deadline.status != Deadline.Status.PENDING or deadline.paused_at is not None:
            return False
        if subject is None:
            deadline.status = Deadline.Status.CANCELLED
            deadline.cancelled_at = timezone.now()
            deadline.cancel_reason = "subject no longer exists"
            deadline.save(update_fields=["status", "cancelled_at", "cancel_reason"])
            return False
        outcome = ""
        if timer.action:
            outcome = import_string(timer.action)(deadline=deadline, subject=subject) or ""
        deadline_mark_fired(deadline=deadline, by=by, outcome=outcome)
    return True


def _record_failure(deadline_id: int, exc: BaseException) -> None:
    backoff = settings.DEADLINE_RETRY_BACKOFF_SECONDS
    try:
        row = Deadline.objects.filter(id=deadline_id).values_list("attempts", flat=True).first() or 0
        Deadline.objects.filter(id=deadline_id, status=Deadline.Status.PENDING).update(
            attempts=F("attempts") + 1,
            last_error="".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000],
            not_before=timezone.now() + dt.timedelta(seconds=backoff * min(row + 1, 60)),
        )
    except DatabaseError:
        # The connection itself is gone (e.g. terminated): the lease brings the row back.
        connection.close()


@dataclass
class SweepResult:
    claimed: int = 0
    fired: int = 0
    failed: int = 0


def deadlines_sweep_batch(*, now: dt.datetime, batch_size: int | None = None) -> SweepResult:
    """Claim one batch and fire each row. Returns what happened."""
    result = SweepResult()
    ids = deadlines_claim(now=now, limit=batch_size or settings.DEADLINE_BATCH_SIZE)
    result.claimed = len(ids)
    for deadline_id in ids:
        try:
            if deadline_fire(deadline_id=deadline_id):
                result.fired += 1
        except Exception as exc:  # recorded on the row and retried later; never hides the rest
            result.failed += 1
            logger.warning("deadline %s failed: %s", deadline_id, exc, exc_info=True)
            if connection.needs_rollback or not connection.is_usable():
                connection.close()
            _record_failure(deadline_id, exc)
    return result


def enforce_deadlines(
    *, now: dt.datetime | None = None, batch_size: int | None = None, time_budget: float | None = None
) -> int:
    """One sweep: fire every deadline due at or before `now` (default: the time the sweep starts).

    Stops early after `time_budget` seconds (the beat's next sweep goes on). Returns how many fired.
    """
    now = now or timezone.now()
    started = timezone.now()
    fired = 0
    while True:
        result = deadlines_sweep_batch(now=now, batch_size=batch_size)
        fired += result.fired
        if result.claimed == 0:
            return fired
        if time_budget is not None and (timezone.now() - started).total_seconds() > time_budget:
            return fired
