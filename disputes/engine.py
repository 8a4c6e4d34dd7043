"""The deadline engine: schedule, cancel, pause and resume clocks, and sweep the due ones.

A sweep claims due rows in batches with `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent sweepers
on any number of machines take disjoint rows.

Hot rules fire in batches (set-based): a Timer that names a `batch_action` has the claimed rows of
that rule fired together. On PostgreSQL they fire in the claim's own transaction, under the locks the
claim took (deadlines_sweep_batch): the action's effects written with bulk statements and one UPDATE
marking the rows fired, guarded by `status = 'pending'`, commit with the claim, so a deadline fires
exactly once, and a worker killed mid-batch loses its transaction whole: its rows are due again at
once. While it holds its deadlines the claim waits for no other lock: orders, subjects and shops that
another transaction holds are skipped (`SKIP LOCKED`) and their rows deferred (`DEFERRED`) to the next
claim, so two sweepers work on disjoint shops instead of waiting on each other; a claim that could move
nothing waits for what was held only after its commit. A batch that raises is undone to its savepoint
and its rows go through the per-row path below, which stays the reference: one bad row never blocks
the rest, and it records its own error.

Every other claimed row (rules without a batch action, rows a batch hands back) is leased (`not_before
= now + lease`) in the claim and fires after it in its own transaction: the subject is locked first,
then the deadline row, whose status is checked again, so a deadline fires at most once even if two
sweepers meet; the action and the `fired` mark commit together, so it fires at least once. A worker
killed before firing them loses nothing: they come back when their lease runs out. A failing action
rolls back, records its error and is retried after a back-off without holding up the rest. (Elsewhere
than on PostgreSQL, or with DEADLINE_SWEEP_FIRE_IN_CLAIM off, every claimed row is leased so and each
batch fires in a transaction of its own: orders locked first, ascending, then the subjects, then the
deadlines.)

Lock order everywhere is subject, then deadline: services that cancel deadlines lock their subject
first, so the sweeper and the API never deadlock.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from core import rulebook
from core.calendar import compute_due
from core.inserts import Writes, array_literal, insert

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


def deadline_fields(
    *,
    subject_kind: str,
    subject_id: int,
    rule_id: str,
    start: dt.datetime,
    variant: str | None = None,
    due_at: dt.datetime | None = None,
    amount: int | None = None,
    unit: str | None = None,
    note: str = "",
    kind: str | None = None,
) -> dict:
    """The columns of the deadline `deadline_schedule` writes (also for writers of many at once).

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
    return {
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "rule": timer.id,
        "kind": kind or timer.kind,
        "started_at": start,
        "due_at": due_at,
        "duration_amount": amount,
        "duration_unit": unit,
        "note": note[:200],
    }


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
    """Start the clock of rule `rule_id` on `subject` at `start` (see deadline_fields)."""
    return Deadline.objects.create(
        **deadline_fields(
            subject_kind=subject_kind_of(subject),
            subject_id=subject.pk,
            rule_id=rule_id,
            start=start,
            variant=variant,
            due_at=due_at,
            amount=amount,
            unit=unit,
            note=note,
            kind=kind,
        )
    )


def deadlines_schedule(
    *, subject: models.Model, rule_ids: Sequence[str], start: dt.datetime, writes: Writes | None = None
) -> list[Deadline]:
    """Start several rules' clocks on `subject` at `start` with their rulebook durations, in one
    statement (a refund's filing starts two); with `writes`, as a part of its statement (the clocks
    have their ids once it ran)."""
    kind = subject_kind_of(subject)
    clocks = [
        Deadline(**deadline_fields(subject_kind=kind, subject_id=subject.pk, rule_id=rule_id, start=start))
        for rule_id in rule_ids
    ]
    return writes.insert(clocks) if writes is not None else insert(clocks)


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
    """Record that `deadline` fired. The caller holds the row lock and checked it was pending. An action
    that cancelled its subject's clocks (deadline_cancel) cancelled this one too: it fired, so it
    keeps no cancellation."""
    deadline.status = Deadline.Status.FIRED
    deadline.fired_at = timezone.now()
    deadline.fired_by = by
    deadline.outcome = outcome[:200]
    deadline.not_before = None
    deadline.cancelled_at, deadline.cancel_reason = None, ""
    deadline.save(
        update_fields=["status", "fired_at", "fired_by", "outcome", "not_before", "cancelled_at", "cancel_reason"]
    )


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


def _async_commit() -> None:
    """Let the current transaction (the sweeper's own: a claim, a batch) commit without waiting for
    its WAL flush, when `DEADLINE_SWEEP_ASYNC_COMMIT` is on (see deadlines_fire_batch)."""
    if settings.DEADLINE_SWEEP_ASYNC_COMMIT and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


_CLAIM_SQL = """
UPDATE {table} AS d SET not_before = %s FROM ({inner}) AS c WHERE d.id = c.id
RETURNING d.due_at, d.id, d.rule, d.subject_kind, d.subject_id
"""


def claimable(now: dt.datetime):
    """What a claim locks, in the order it takes it: due (due_deadlines), oldest first, ties by id — the
    order of the `deadline_due_pending_idx` index, so a claim reads its batch and stops however many rows
    share one due time (tests/disputes/test_engine.py checks the plan). Inside a transaction."""
    return due_deadlines(now).order_by("due_at", "id").select_for_update(skip_locked=True)


def _lease_until() -> dt.datetime:
    """When a lease taken now runs out: two sweep intervals."""
    return timezone.now() + dt.timedelta(seconds=settings.DEADLINE_SWEEP_INTERVAL_SECONDS * 2)


def _claim(*, now: dt.datetime, limit: int) -> list[tuple[int, str, str, int]]:
    """Claim up to `limit` due deadlines: `(id, rule, subject_kind, subject_id)` each, in due order."""
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction:
            _async_commit()  # a lease lost in a crash only makes the rows claimable again
        due = claimable(now)
        if connection.vendor != "postgresql":
            rows = list(due.values_list("id", "rule", "subject_kind", "subject_id")[:limit])
            if rows:
                Deadline.objects.filter(id__in=[r[0] for r in rows]).update(not_before=_lease_until())
            return rows
        # One statement: lock the due rows no other sweeper holds, lease them, return them.
        inner, params = due.values("id")[:limit].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL.format(table=Deadline._meta.db_table, inner=inner), [_lease_until(), *params])
            claimed = sorted(cursor.fetchall())
    return [(pk, rule, kind, subject_id) for _, pk, rule, kind, subject_id in claimed]


def _claim_locked(*, now: dt.datetime, limit: int) -> list[Deadline]:
    """Lock up to `limit` due deadlines in the current transaction, as `_claim` does but without a
    lease: the row locks, held to the transaction's end, are the claim (deadlines_sweep_batch). The
    rows come as instances holding what a batch reads of them (_BATCH_DEADLINE_FIELDS), in due order:
    while the claim holds them they cannot change, so a batch need not read them again."""
    names = ["id", *_BATCH_DEADLINE_FIELDS]
    inner, params = claimable(now).values_list(*names)[:limit].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(inner, params)
        rows = cursor.fetchall()
    claimed = _instances(Deadline, names, rows)  # plain columns: each name is its attname
    claimed.sort(key=lambda d: (d.due_at, d.pk))
    return claimed


def _lease(deadline_ids: Sequence[int]) -> None:
    """Lease claimed rows that will fire after the claim commits (the per-row path), as `_claim` does."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Deadline._meta.db_table} SET not_before = %s WHERE id = ANY(%s::bigint[])",  # noqa: S608
            [_lease_until(), array_literal(sorted(deadline_ids))],
        )


# Inside a claim that fires its batch rules in its own transaction (deadlines_sweep_batch): the rows,
# by model, that a batch found held by another transaction. The claim waits for them after it commits
# (_wait_for), never while it holds its deadlines' locks.
_HELD: contextvars.ContextVar[dict[Any, set[int]] | None] = contextvars.ContextVar("claim_held", default=None)


def claim_held() -> bool:
    """True inside a claim's own transaction (deadlines_sweep_batch). There a batch must not wait for a
    lock: it holds the claimed deadlines' locks, and a writer holding what it would wait for may be
    waiting for one of them (a revoked penalty's shop, whose sanctions' end clocks it cancels). It
    takes what is free (`SKIP LOCKED`), defers the rest and names what it found held (wait_after_claim)."""
    return _HELD.get() is not None


def wait_after_claim(model: type[models.Model], ids: Iterable[int]) -> None:
    """Inside a claim (claim_held): rows of `model` another transaction holds, that deferred rows need.
    If the claim fires nothing, the sweep waits for them once it has committed (_wait_for)."""
    held = _HELD.get()
    if held is not None:
        held.setdefault(model, set()).update(ids)


def _wait_for(held: dict[Any, set[int]]) -> None:
    """After a claim that moved nothing because other transactions held what its rows need: wait for
    those rows' locks, one model at a time and holding nothing else, then let go, so that the next claim
    finds them free instead of deferring the same rows again and again."""
    for model, ids in held.items():
        with transaction.atomic(), connection.cursor() as cursor:
            pk = model._meta.pk
            cursor.execute(
                f"SELECT 1 FROM {model._meta.db_table} WHERE {pk.column} = ANY({_ids_param(pk)}) "  # noqa: S608
                f"ORDER BY {pk.column} FOR UPDATE",
                [array_literal(sorted(ids))],
            )


def deadlines_claim(*, now: dt.datetime, limit: int) -> list[int]:
    """Claim up to `limit` due deadlines for this worker: lock-free for others (SKIP LOCKED), leased."""
    return [row[0] for row in _claim(now=now, limit=limit)]


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
    batched: int = 0  # of `fired`, how many fired in a set-based batch
    deferred: int = 0  # claimed, released for the next claim by a batch action

    def add(self, batch: BatchFired) -> None:
        """Count in what a batch fired and deferred (its `rest` goes to the per-row path)."""
        self.fired += batch.fired
        self.batched += batch.fired
        self.deferred += batch.deferred


@dataclass
class BatchFired:
    fired: int = 0  # marked fired by the batch
    done: int = 0  # fired, or found cancelled / no longer pending: nothing more to do
    rest: list[int] = field(default_factory=list)  # for the per-row path
    deferred: int = 0  # released for the next claim (another sweeper held what they need)


# `status = 'pending'` guards the mark: a row another path fired in between is never fired twice
# (the count is checked, and a short count rolls the whole batch back).
_MARK_FIRED_SQL = """
UPDATE {table} AS d
SET status = 'fired', fired_at = %s, fired_by = %s, outcome = v.outcome, not_before = NULL
FROM unnest(%s::bigint[], %s::text[]) AS v(id, outcome)
WHERE d.id = v.id AND d.status = 'pending'
"""


class _Deferred:
    """A batch action's outcome for a row it cannot take now because another sweeper holds what the
    row needs (a shop's lock, R-P11): the row's lease is released and the next claim takes it again."""

    def __repr__(self) -> str:
        return "DEFERRED"


DEFERRED = _Deferred()
BatchOutcome = str | None | _Deferred


def deadlines_fire_batch(
    *, rule_id: str, deadline_ids: Sequence[int], by: str = "sweep", heads: Sequence[tuple[int, str, int]] | None = None
) -> BatchFired:
    """Fire the claimed deadlines of one rule (and one subject kind) together, in one transaction,
    through the rule's `batch_action`. The rows it leaves (handed back, or all of them when the batch
    raised) are returned in `rest` for the per-row path, which is the reference for correctness.

    With `DEADLINE_SWEEP_ASYNC_COMMIT` (default on) the batch's own transaction commits without
    waiting for its WAL flush: the sweep has no effect outside its transaction, so a commit lost in a
    crash loses the firing and its `fired` mark together, and the lease fires it again — never twice.

    `heads`: `(id, subject_kind, subject_id)` of the deadlines as the claim returned them (neither ever
    changes), so that they are not read again; without them the batch reads them."""
    timer = rulebook.timer(rule_id)
    if not timer.batch_action or connection.vendor != "postgresql" or not deadline_ids:
        return BatchFired(rest=list(deadline_ids))
    batch_action = import_string(timer.batch_action)
    own_transaction = not connection.in_atomic_block
    try:
        with transaction.atomic():
            if own_transaction:
                _async_commit()
            return _fire_batch(timer=timer, batch_action=batch_action, deadline_ids=deadline_ids, by=by, heads=heads)
    except Exception as exc:  # the per-row path fires the good rows and records the bad one's error
        logger.warning("batch of %s %s deadlines failed, firing row by row: %s", len(deadline_ids), rule_id, exc)
        if connection.needs_rollback or not connection.is_usable():
            connection.close()
        return BatchFired(rest=list(deadline_ids))


# What a batch action may read of its deadlines (anything else would be loaded row by row).
_BATCH_DEADLINE_FIELDS = ("status", "paused_at", "subject_kind", "subject_id", "rule", "kind", "started_at", "due_at")


def _ids_param(pk: Any) -> str:
    """The placeholder of a list of `pk`'s values sent as one array literal (core.inserts.array_literal)."""
    return f"%s::{pk.rel_db_type(connection)}[]"


def _lock_instances(
    model: type[Any], ids: Sequence[int], field_names: Sequence[str], *, skip_locked: bool = False
) -> list:
    """`SELECT … WHERE id = ANY(ids) ORDER BY id FOR UPDATE` (`SKIP LOCKED` with `skip_locked`: the
    rows another transaction holds are left out, as the missing ones are): the rows as instances of `model` holding
    `field_names` (any other field loads when read, as with `.only()`). A batch locks a thousand rows
    at once: the statement is written out (the ORM prepared every id of an `IN` list one by one) and
    the instances are made as `Model.from_db` makes them but without running `__init__` per row, which
    is only right for plain columns: a field that converts what the database returns (a JSON field,
    say) takes the ORM's way."""
    fields: list[Any] = [model._meta.get_field(name) for name in field_names]
    if any(hasattr(f, "from_db_value") or not f.concrete for f in fields):
        qs = model.objects.select_for_update(skip_locked=skip_locked).filter(pk__in=list(ids))
        qs = qs.only(*field_names).order_by("pk")
        return list(qs)
    pk = model._meta.pk
    fields = [pk, *(f for f in fields if not f.primary_key)]
    attnames = [f.attname for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    where = connection.ops.quote_name(pk.column)
    param = _ids_param(pk)
    sql = f"SELECT {columns} FROM {model._meta.db_table} WHERE {where} = ANY({param}) ORDER BY {where} FOR UPDATE"  # noqa: S608
    if skip_locked:
        sql += " SKIP LOCKED"
    with connection.cursor() as cursor:
        cursor.execute(sql, [array_literal(ids)])
        return _instances(model, attnames, cursor.fetchall())


def _instances(model: type[Any], attnames: Sequence[str], rows: Iterable[Sequence[Any]]) -> list:
    """Rows of plain columns (`attnames`, in order) as instances of `model`, made as `Model.from_db`
    makes them but without running `__init__` per row (_lock_instances)."""
    instances = []
    db = connection.alias
    new: Any = model.__new__
    for row in rows:
        obj = new(model)
        obj.__dict__.update(zip(attnames, row, strict=True))
        state = obj._state = models.base.ModelState()
        state.adding, state.db = False, db
        instances.append(obj)
    return instances


def _existing(model: type[Any], ids: Sequence[int], column: str | None = None) -> dict[int, Any]:
    """Which of `ids` are rows of `model` (read, not locked): {id: its `column`, or the id}."""
    if not ids:
        return {}
    pk = model._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {pk.column}, {column or pk.column} FROM {model._meta.db_table} "  # noqa: S608
            f"WHERE {pk.column} = ANY({_ids_param(pk)})",
            [array_literal(sorted(ids))],
        )
        return dict(cursor.fetchall())


def _fire_batch(
    *,
    timer,
    batch_action,
    deadline_ids: Sequence[int],
    by: str,
    heads: Sequence[tuple[int, str, int]] | None,
    claimed: Sequence[Deadline] | None = None,
) -> BatchFired:
    """`claimed`: the deadlines as a claim that holds their locks gave them (_sweep_in_claim), in place
    of `deadline_ids`' rows locked and read here. Then no lock is waited for: orders and subjects
    another transaction holds are skipped, their deadlines deferred (no lease to release: the claim's
    locks end with its transaction), and what was held is named for the sweep to wait for after the
    claim (wait_after_claim)."""
    held = claimed is not None
    if heads is None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, subject_kind, subject_id FROM {Deadline._meta.db_table} WHERE id = ANY(%s::bigint[])",  # noqa: S608
                [array_literal(deadline_ids)],
            )
            heads = cursor.fetchall()
    kinds = {kind for _, kind, _ in heads}
    if len(kinds) != 1:
        return BatchFired(rest=list(deadline_ids))
    kind = kinds.pop()
    model = apps.get_model(SUBJECT_MODELS[kind])
    subject_ids = sorted({subject_id for _, _, subject_id in heads})
    busy: set[int] = set()  # with `held`: subjects whose row or order another transaction holds
    # Lock order as in deadline_fire: orders (ascending id, so two batches never wait on each other
    # in a cycle), then the subjects, then the deadlines.
    if kind != "order" and any(f.name == "order" for f in model._meta.fields):
        order_model = apps.get_model("orders.Order")
        orders, order_id = order_model._meta.db_table, model._meta.get_field("order").column
        pk: Any = model._meta.pk
        param = _ids_param(pk)
        with connection.cursor() as cursor:  # the subjects' orders read and locked in one statement
            cursor.execute(
                f"SELECT s.{pk.column} FROM {orders} o JOIN {model._meta.db_table} s ON s.{order_id} = o.id "  # noqa: S608
                f"WHERE s.{pk.column} = ANY({param}) ORDER BY o.id FOR UPDATE OF o" + (" SKIP LOCKED" if held else ""),
                [array_literal(subject_ids)],
            )
            locked = {row[0] for row in cursor.fetchall()}
        if held and (unlocked := [sid for sid in subject_ids if sid not in locked]):
            # Not locked: gone (the subject lock below finds it missing), without an order, or its order held.
            orders_held = {sid: oid for sid, oid in _existing(model, unlocked, order_id).items() if oid is not None}
            busy.update(orders_held)
            wait_after_claim(order_model, orders_held.values())
    # A batch action may name the subject fields it reads (`subject_fields`): only those are loaded.
    fields = getattr(batch_action, "subject_fields", None) or [f.name for f in model._meta.concrete_fields]
    wanted = [sid for sid in subject_ids if sid not in busy]
    subjects = {s.pk: s for s in _lock_instances(model, wanted, fields, skip_locked=held)}
    if held and (unlocked := [sid for sid in wanted if sid not in subjects]):
        subjects_held = list(_existing(model, unlocked))  # the others are gone
        busy.update(subjects_held)
        wait_after_claim(model, subjects_held)
    if claimed is None:
        deadlines = _lock_instances(Deadline, sorted(deadline_ids), _BATCH_DEADLINE_FIELDS)
    else:
        # Claimed pending and unpaused and held since, so as they were claimed (by id, as locked here). A
        # batch of the same claim that changed one of them is caught by the mark's `status = 'pending'`
        # guard below: this batch is then undone and its rows fire one by one, which read them again.
        deadlines = sorted(claimed, key=lambda d: d.pk)
    live = [d for d in deadlines if d.status == Deadline.Status.PENDING and d.paused_at is None]
    result = BatchFired(done=len(deadlines) - len(live))
    if busy:
        result.deferred = sum(1 for d in live if d.subject_id in busy)
        live = [d for d in live if d.subject_id not in busy]
    gone = [d.pk for d in live if d.subject_id not in subjects]
    if gone:
        Deadline.objects.filter(id__in=gone, status=Deadline.Status.PENDING).update(
            status=Deadline.Status.CANCELLED, cancelled_at=timezone.now(), cancel_reason="subject no longer exists"
        )
        result.done += len(gone)
    live = [d for d in live if d.subject_id in subjects]
    if not live:
        return result
    outcomes: dict[int, BatchOutcome] = batch_action(deadlines=live, subjects=subjects)
    fired = [(d.pk, outcome[:200]) for d in live if isinstance(outcome := outcomes.get(d.pk), str)]
    result.rest = [d.pk for d in live if outcomes.get(d.pk) is None]
    deferred = [d.pk for d in live if outcomes.get(d.pk) is DEFERRED]
    if deferred:
        if not held:  # leased by the claim: released for the next one
            Deadline.objects.filter(id__in=deferred).update(not_before=None)
        result.deferred += len(deferred)
    if fired:
        with connection.cursor() as cursor:
            cursor.execute(
                _MARK_FIRED_SQL.format(table=Deadline._meta.db_table),
                [timezone.now(), by, array_literal([pk for pk, _ in fired]), array_literal([o for _, o in fired])],
            )
            if cursor.rowcount != len(fired):
                raise DatabaseError(f"batch marked {cursor.rowcount} of {len(fired)} deadlines fired")
    result.fired = len(fired)
    result.done += len(fired)
    return result


def _fire_one(deadline_id: int, result: SweepResult) -> None:
    try:
        if deadline_fire(deadline_id=deadline_id):
            result.fired += 1
    except Exception as exc:  # recorded on the row and retried later; never hides the rest
        result.failed += 1
        logger.warning("deadline %s failed: %s", deadline_id, exc, exc_info=True)
        if connection.needs_rollback or not connection.is_usable():
            connection.close()
        _record_failure(deadline_id, exc)


def _grouped(
    rows: Sequence[tuple[int, str, str, int]],
) -> tuple[dict[tuple[str, str], list[tuple[int, str, int]]], list[int]]:
    """Claimed rows as the batches of rules with a `batch_action` (per rule and subject kind: `(id,
    subject_kind, subject_id)` each) and the ids of the others, for the per-row path."""
    groups: dict[tuple[str, str], list[tuple[int, str, int]]] = {}
    singles: list[int] = []
    for deadline_id, rule_id, kind, subject_id in rows:
        timer = rulebook.TIMERS.get(rule_id)
        if timer is not None and timer.batch_action:
            groups.setdefault((rule_id, kind), []).append((deadline_id, kind, subject_id))
        else:
            singles.append(deadline_id)
    return groups, singles


def deadlines_sweep_batch(*, now: dt.datetime, batch_size: int | None = None) -> SweepResult:
    """Claim one batch and fire it: the rows of a rule with a `batch_action` together, the others
    (and whatever a batch hands back) one by one. Returns what happened.

    On PostgreSQL (with DEADLINE_SWEEP_FIRE_IN_CLAIM) the batches fire in the claim's own transaction,
    under the locks the claim took (_sweep_in_claim): no lease is written for them, their deadlines are
    not locked a second time, and one commit serves the claim and its batches. Elsewhere every claimed
    row is leased and committed first (`_claim`), then each batch fires in a transaction of its own
    (deadlines_fire_batch)."""
    limit = batch_size or settings.DEADLINE_BATCH_SIZE
    if settings.DEADLINE_SWEEP_FIRE_IN_CLAIM and connection.vendor == "postgresql":
        result, singles = _sweep_in_claim(now=now, limit=limit)
    else:
        result = SweepResult()
        rows = _claim(now=now, limit=limit)
        result.claimed = len(rows)
        groups, singles = _grouped(rows)
        for (rule_id, _kind), heads in groups.items():
            ids = [pk for pk, _, _ in heads]
            batch = deadlines_fire_batch(rule_id=rule_id, deadline_ids=ids, heads=heads)
            result.add(batch)
            singles.extend(batch.rest)
    for deadline_id in singles:
        _fire_one(deadline_id, result)
    return result


def _sweep_in_claim(*, now: dt.datetime, limit: int) -> tuple[SweepResult, list[int]]:
    """Claim up to `limit` due deadlines and fire the batch rules' rows in the same transaction.

    Exactly once: the claim's row locks are held until the batches' effects and `fired` marks commit
    with them, so no other sweeper can take these rows meanwhile, and a worker killed mid-batch loses
    its transaction whole: its rows are pending again at once, as if never claimed (no lease to run
    out). Each batch runs in a savepoint: one that raises is undone alone and its rows join the
    per-row path. The rows for the per-row path (rules without a batch action, rows a batch hands
    back or could not fire) are leased in this transaction, as `_claim` leases them, and fire after
    the commit, each in its own transaction (deadline_fire).

    While it holds its deadlines' locks the claim never waits for another lock (claim_held): a batch
    takes the orders, subjects and shops no other transaction holds and defers the rest, which the
    next claim takes again. If a claim moved no row at all because of that, the sweep waits for what
    was held after the commit, holding nothing (_wait_for), and does not spin."""
    result = SweepResult()
    held: dict[Any, set[int]] = {}
    moved = 0  # rows that left `pending` in this claim (fired, found no longer pending, cancelled)
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction:
            _async_commit()  # why exactly-once holds without the flush: deadlines_fire_batch
        claimed = _claim_locked(now=now, limit=limit)
        result.claimed = len(claimed)
        groups, singles = _grouped([(d.pk, d.rule, d.subject_kind, d.subject_id) for d in claimed])
        by_id = {d.pk: d for d in claimed}
        token = _HELD.set(held)
        try:
            for (rule_id, _kind), heads in groups.items():
                batch = _fire_batch_in_claim(rule_id=rule_id, claimed=[by_id[pk] for pk, _, _ in heads])
                result.add(batch)
                moved += batch.done
                singles.extend(batch.rest)
        finally:
            _HELD.reset(token)
        if singles:
            _lease(singles)
    if held and not moved and not singles and own_transaction:
        _wait_for(held)
    return result, singles


def _fire_batch_in_claim(*, rule_id: str, claimed: Sequence[Deadline]) -> BatchFired:
    """One rule's claimed rows fired in a savepoint of the claim's transaction (_sweep_in_claim). A
    batch that raises is undone to the savepoint alone; its rows go to the per-row path, which fires
    the good ones and records the bad one's error."""
    ids = [d.pk for d in claimed]
    heads = [(d.pk, d.subject_kind, d.subject_id) for d in claimed]
    timer = rulebook.timer(rule_id)
    try:
        batch_action = import_string(str(timer.batch_action))  # one that cannot be imported: row by row
        with transaction.atomic():
            return _fire_batch(
                timer=timer, batch_action=batch_action, deadline_ids=ids, by="sweep", heads=heads, claimed=claimed
            )
    except Exception as exc:
        if not connection.is_usable():
            raise  # the claim's transaction is lost with its connection: nothing fired, nothing leased
        logger.warning("batch of %s %s deadlines failed, firing row by row: %s", len(ids), rule_id, exc)
        return BatchFired(rest=ids)


def enforce_deadlines(
    *, now: dt.datetime | None = None, batch_size: int | None = None, time_budget: float | None = None
) -> int:
    """One sweep: fire every deadline due at or before `now` (default: the time the sweep starts).

    With a `time_budget` (the beat's task, the in-process sweeper) and no fixed `now`, each batch
    looks at the clock again, so deadlines falling due while a long sweep runs are fired in it rather
    than waiting for the next beat (lateness stays near one interval). Stops after `time_budget`
    seconds (the next sweep goes on). Returns how many fired.
    """
    rolling = now is None and time_budget is not None
    now = now or timezone.now()
    started = timezone.now()
    fired = 0
    while True:
        if rolling:
            now = timezone.now()
        result = deadlines_sweep_batch(now=now, batch_size=batch_size)
        fired += result.fired
        if result.claimed == 0:
            return fired
        if time_budget is not None and (timezone.now() - started).total_seconds() > time_budget:
            return fired
