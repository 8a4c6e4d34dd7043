"""Writes shared by every app: the audit event and the notification."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from . import chain
from .inserts import Writes, insert
from .models import Event, Notification


def _subject_kind(subject: models.Model) -> str:
    return subject._meta.model_name or ""


def event_record(
    *,
    subject: models.Model,
    action: str,
    actor=None,
    from_status: str = "",
    to_status: str = "",
    data: dict[str, Any] | None = None,
    at=None,
    writes: Writes | None = None,
) -> Event:
    """Write one audit event: who (a user, or the system when `actor` is None) did what to what.

    The event is appended to its subject's hash chain (core/chain.py) under the chain head's row
    lock, held until the caller's transaction ends: on PostgreSQL the head's advance and the event's
    insert are one statement. With `writes` (core.inserts.Writes) that statement joins the others
    queued there, and the event returned has its id, seq and hashes once they ran.
    """
    at = at or timezone.now()
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    actor_label = getattr(actor, "username", None) or "system"
    actor = actor if actor is not None and getattr(actor, "pk", None) else None
    fields = {
        "at": at,
        "actor_label": actor_label,
        "action": action,
        "subject_kind": _subject_kind(subject),
        "subject_id": subject.pk,
        "from_status": from_status,
        "to_status": to_status,
        "data": chain.canonical_data(data or {}),
    }
    actor_id = actor.pk if actor is not None else None
    digest = chain.content_hash(actor_id=actor_id, **fields)
    event = Event(actor=actor, **fields)

    def written(pk: int, seq: int, prev_hash: str, event_hash: str) -> None:
        event.pk, event.seq, event.prev_hash, event.hash = pk, seq, prev_hash, event_hash
        event._state.adding, event._state.db = False, connection.alias

    # Queued on `writes`, nothing runs here: the caller's transaction holds the writes together.
    with transaction.atomic(savepoint=False) if writes is None else contextlib.nullcontext():
        if chain.event_append(fields=fields, actor_id=actor_id, digest=digest, done=written, writes=writes):
            return event
        seq, prev_hash, event_hash = chain.chain_append(
            subject_kind=fields["subject_kind"], subject_id=fields["subject_id"], digest=digest
        )
        return Event.objects.create(actor=actor, seq=seq, prev_hash=prev_hash, hash=event_hash, **fields)


def notification_rows(
    *, user_ids: Iterable[int | None], kind: str, title: str, body: str, subject_kind: str, subject_id: int | None
) -> list[dict[str, Any]]:
    """The columns of one message to each of `user_ids`, duplicates and None dropped (notify, and the
    sweeper's batches through disputes.batch.notifications_many)."""
    return [
        {
            "user_id": user_id,
            "kind": kind,
            "title": title,
            "body": body,
            "subject_kind": subject_kind,
            "subject_id": subject_id,
        }
        for user_id in dict.fromkeys(user_ids)
        if user_id is not None
    ]


def notify(
    *,
    users: Iterable = (),
    user_ids: Iterable[int | None] = (),
    kind: str,
    title: str,
    body: str = "",
    subject: models.Model | None = None,
    writes: Writes | None = None,
) -> list[Notification]:
    """Send one message to each of `users` and `user_ids` (duplicates and None are dropped); with
    `writes`, as a part of its statement."""
    rows = notification_rows(
        user_ids=[*(user.pk if user is not None else None for user in users), *user_ids],
        kind=kind,
        title=title,
        body=body,
        subject_kind=_subject_kind(subject) if subject is not None else "",
        subject_id=subject.pk if subject is not None else None,
    )
    return (writes.insert if writes is not None else insert)([Notification(**row) for row in rows])
