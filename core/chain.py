"""The audit log's hash chain (RULEBOOK §7: nothing submitted can change unseen).

Every subject (an order, refund, complaint, case, evidence item …) has its own chain of events:
event n stores `prev_hash` (the hash of event n-1, or GENESIS) and
`hash = sha256(f"{prev_hash}:{seq}:{content_hash}")`, where `content_hash` is the SHA-256 of a
canonical JSON of the event's own fields. The chain's head (length and last hash) lives in
`EventChain`; a writer locks that row, so two events written at once on one subject never fork the
chain, and deleting the newest event is seen too (the head remembers the length).

The hash format is a stored contract: migration 0004 carries a frozen copy of these functions.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

from . import prepared

if TYPE_CHECKING:
    from .inserts import Writes

GENESIS = "0" * 64


@functools.lru_cache(maxsize=4096)  # a sweep's batch writes a thousand events at one `at`
def canonical_at(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Values a JSON round trip gives back unchanged: a flat dict of these is already canonical.
_JSON_SCALARS = frozenset({str, int, bool, type(None)})


def canonical_data(data: Any) -> Any:
    """What the JSON column gives back for `data`: the value hashed is the value read later."""
    if data is None:
        return {}
    if type(data) is dict and all(type(k) is str and type(v) in _JSON_SCALARS for k, v in data.items()):
        return dict(data)
    return json.loads(json.dumps(data))


def canonical_json(value: Any) -> str:
    """The canonical JSON of a value as the chain hashes it: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_encode_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes for a str


def _scalar(value: str | int | None) -> str:
    if value is None:
        return "null"
    return _encode_string(value) if isinstance(value, str) else str(int(value))


def content_hash(
    *,
    at: dt.datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    subject_kind: str,
    subject_id: int,
    from_status: str,
    to_status: str,
    data: Any,
    data_json: str | None = None,
) -> str:
    """SHA-256 of the canonical JSON of one event's fields (sorted keys, no spaces, UTF-8).

    The text is assembled field by field in sorted-key order — exactly what `canonical_json` gives
    for the whole payload (tests/core/test_chain_canonical.py) — so that a caller that also writes
    `data` can pass its canonical JSON (`data_json`) and have it serialised once."""
    text = (
        f'{{"action":{_scalar(action)},"actor_id":{_scalar(actor_id)},"actor_label":{_scalar(actor_label)},'
        f'"at":"{canonical_at(at)}","data":{canonical_json(data) if data_json is None else data_json},'
        f'"from_status":{_scalar(from_status)},"subject_id":{_scalar(subject_id)},'
        f'"subject_kind":{_scalar(subject_kind)},"to_status":{_scalar(to_status)}}}'
    )
    return hashlib.sha256(text.encode()).hexdigest()


def link_hash(prev_hash: str, seq: int, digest: str) -> str:
    return hashlib.sha256(f"{prev_hash}:{seq}:{digest}".encode()).hexdigest()


def event_content_hash(event) -> str:
    return content_hash(
        at=event.at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        subject_kind=event.subject_kind,
        subject_id=event.subject_id,
        from_status=event.from_status,
        to_status=event.to_status,
        data=event.data,
    )


def link_sql(prev: str, seq: str, digest: str) -> str:
    """link_hash as a SQL expression over the given SQL terms, for statements that advance heads."""
    return f"encode(sha256(convert_to({prev} || ':' || ({seq})::text || ':' || {digest}, 'UTF8')), 'hex')"


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]+")


def canonical_object_sql(values: dict[str, str]) -> str:
    """canonical_json of an object as a SQL text expression, for statements that write events
    set-based (disputes.batch): `values` maps each key to a typed SQL term (a parameter cast, a
    column) giving a string, an integer, a boolean or null, written as PostgreSQL writes it in jsonb
    (`to_jsonb(…)::text`), which is what json.dumps(ensure_ascii=False) writes for it; the keys sorted
    as sort_keys sorts them, no spaces.
    The keys are the caller's constants (letters, digits, `_`, `.`, `-`); a float or a nested value would
    be written otherwise, so none is taken (tests/core/test_chain_sql.py compares both)."""
    if not all(_PLAIN_KEY.fullmatch(key) for key in values):
        raise ValueError(f"keys must be plain: {sorted(values)}")
    if not values:
        return "'{}'"
    members = [
        f"'{',' if i else '{'}{json.dumps(key)}:' || coalesce(to_jsonb({values[key]})::text, 'null')"
        for i, key in enumerate(sorted(values))
    ]
    return "(" + " || ".join([*members, "'}'"]) + ")"


def content_hash_sql(
    *,
    at: str,
    actor_id: str,
    actor_label: str,
    action: str,
    subject_kind: str,
    subject_id: str,
    from_status: str,
    to_status: str,
    data_json: str,
) -> str:
    """content_hash as a SQL expression over SQL terms: `at` gives canonical_at's text, `data_json`
    the canonical JSON of the data (canonical_object_sql), the others the columns. The same text,
    field by field in sorted-key order, hashed the same way (tests/core/test_chain_sql.py)."""

    def text(term: str) -> str:
        return f"to_jsonb(({term})::text)::text"

    def number(term: str) -> str:
        return f"coalesce(({term})::bigint::text, 'null')"

    parts = [
        """'{"action":'""",
        text(action),
        """',"actor_id":'""",
        number(actor_id),
        """',"actor_label":'""",
        text(actor_label),
        """',"at":"'""",
        f"({at})",
        """'","data":'""",
        f"({data_json})",
        """',"from_status":'""",
        text(from_status),
        """',"subject_id":'""",
        number(subject_id),
        """',"subject_kind":'""",
        text(subject_kind),
        """',"to_status":'""",
        text(to_status),
        "'}'",
    ]
    return f"encode(sha256(convert_to({' || '.join(parts)}, 'UTF8')), 'hex')"


# One statement takes the head row's lock (ON CONFLICT DO UPDATE locks and reads the latest committed
# version even under READ COMMITTED), advances it and returns the link: the one extra query per event.
# Positional parameters (the subject's kind and id, then the digest twice), so that it can join other
# writes in one statement (core.inserts.Writes); GENESIS is a constant of the format.
_APPEND_SQL = f"""
INSERT INTO {{table}} (subject_kind, subject_id, length, prev_hash, head_hash)
VALUES (%s, %s, 1, '{GENESIS}', {link_sql(f"'{GENESIS}'", "1", "%s")})
ON CONFLICT (subject_kind, subject_id) DO UPDATE SET
    length = {{table}}.length + 1,
    prev_hash = {{table}}.head_hash,
    head_hash = {link_sql("{table}.head_hash", "{table}.length + 1", "%s")}
RETURNING length, prev_hash, head_hash
"""  # noqa: S608 (the table and the expressions are constants; values travel as parameters)


# The event's own insert, fed by the head's advance (`{{0}}`, the statement above as a CTE): with it one
# statement per audit event (#9).
_EVENT_SQL = """
INSERT INTO {events} (at, actor_id, actor_label, action, subject_kind, subject_id, from_status, to_status, data,
                      seq, prev_hash, hash)
SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, head.length, head.prev_hash, head.head_hash
FROM {{0}} head
RETURNING id, seq, prev_hash, hash
"""


@functools.cache
def _append_statements() -> tuple[str, str]:
    from .models import Event, EventChain

    return _APPEND_SQL.format(table=EventChain._meta.db_table).strip(), _EVENT_SQL.format(
        events=Event._meta.db_table
    ).strip()


def event_append(
    *,
    fields: dict[str, Any],
    actor_id: int | None,
    digest: str,
    done: Callable[[int, int, str, str], None],
    writes: Writes | None = None,
) -> bool:
    """On PostgreSQL, advance the subject's chain head and insert the event (`fields`: the columns
    content_hash takes, but the actor) in one statement, the head's link as chain_append computes it,
    then call `done(id, seq, prev_hash, hash)`; return True. With `writes`, the statement is queued
    there and runs with the others (one head advance per subject and statement). Elsewhere False: the
    caller appends with chain_append and inserts the event itself."""
    from .inserts import Writes

    if connection.vendor != "postgresql":
        return False
    queued = writes is not None
    writes = writes if writes is not None else Writes()
    kind, subject_id = fields["subject_kind"], fields["subject_id"]
    writes.claim(("chain head", kind, subject_id))
    params = [kind, subject_id, digest, digest]
    params += [fields["at"], actor_id, fields["actor_label"], fields["action"], kind, subject_id]
    params += [fields["from_status"], fields["to_status"], json.dumps(fields["data"])]
    writes.add(_append_statements(), params, lambda rows: done(*rows[0]))
    if not queued:
        writes.run()
    return True


def chain_append(*, subject_kind: str, subject_id: int, digest: str) -> tuple[int, str, str]:
    """Advance the subject's chain head by one event whose content hash is `digest`; return
    `(seq, prev_hash, hash)`. Call inside the transaction that writes the event."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            prepared.execute(cursor, _append_statements()[0], [subject_kind, subject_id, digest, digest])
            seq, prev_hash, head_hash = cursor.fetchone()
        return seq, prev_hash, head_hash
    return _chain_append_portable(subject_kind=subject_kind, subject_id=subject_id, digest=digest)


def _chain_append_portable(*, subject_kind: str, subject_id: int, digest: str) -> tuple[int, str, str]:
    """The same link computed in Python (SQLite quick start; SQLite serialises writers itself)."""
    from .models import EventChain

    with transaction.atomic(savepoint=False):
        head, _ = EventChain.objects.select_for_update().get_or_create(
            subject_kind=subject_kind, subject_id=subject_id, defaults={"length": 0, "head_hash": GENESIS}
        )
        seq, prev_hash = head.length + 1, head.head_hash
        new_hash = link_hash(prev_hash, seq, digest)
        EventChain.objects.filter(pk=head.pk).update(length=seq, prev_hash=prev_hash, head_hash=new_hash)
    return seq, prev_hash, new_hash


# --- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    """The first link of a chain that does not hold."""

    subject_kind: str
    subject_id: int
    event_id: int | None
    seq: int | None
    reason: str

    def __str__(self) -> str:
        where = f"event {self.event_id} (#{self.seq})" if self.event_id else "chain head"
        return f"{self.subject_kind}:{self.subject_id} {where}: {self.reason}"


def chain_verify(*, subject_kind: str, subject_id: int, events: Iterable | None = None) -> ChainBreak | None:
    """Re-hash every event of one subject's chain, oldest first; return the first break, or None."""
    from .models import Event, EventChain

    if events is None:
        events = Event.objects.filter(subject_kind=subject_kind, subject_id=subject_id).order_by("seq", "id")
    rows = sorted(events, key=lambda e: (e.seq is None, e.seq or 0, e.id))

    def broken(event, reason: str) -> ChainBreak:
        return ChainBreak(subject_kind, subject_id, getattr(event, "id", None), getattr(event, "seq", None), reason)

    prev_hash, expected = GENESIS, 1
    for event in rows:
        if event.seq is None:
            return broken(event, "event is not on the chain (written without core.services.event_record)")
        if event.seq != expected:
            return broken(event, f"sequence gap: expected #{expected}, found #{event.seq} (an event was removed)")
        if event.prev_hash != prev_hash:
            return broken(event, "prev_hash does not match the previous event's hash")
        if link_hash(prev_hash, event.seq, event_content_hash(event)) != event.hash:
            return broken(event, "content does not match its hash (the row was edited)")
        prev_hash, expected = event.hash, expected + 1
    head = EventChain.objects.filter(subject_kind=subject_kind, subject_id=subject_id).first()
    length = expected - 1
    if head is None:
        if length:
            return broken(None, "the chain head is missing")
        return None
    if head.length != length or head.head_hash != prev_hash:
        return broken(None, f"the head records {head.length} events, {length} found (an event was removed)")
    return None
