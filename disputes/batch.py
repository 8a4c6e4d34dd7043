"""Set-based firing of hot rules (issue #9): the same effects as the per-row timeout actions, written
with a handful of bulk statements per batch instead of a dozen statements per row.

The engine (disputes.engine: a claim's own transaction, or deadlines_fire_batch) has already locked the
orders, the subjects and the deadlines and checked each is still pending; a batch action returns
`{deadline_id: outcome}`, None for a row it hands back to the per-row path (the reference for
correctness), or DEFERRED for a row it cannot take now. Inside a claim (engine.claim_held) an action
waits for no lock: it takes what is free with `SKIP LOCKED` and names what it found held
(engine.wait_after_claim). The per-row
actions stay the definition of what a firing does; tests/disputes/test_sweep_batch.py checks both
paths leave the same rows behind.

The batch rules: R-T01 (late shipment) and R-T16 (auto-confirm) write their whole action with one
statement of data-modifying CTEs, Python computing only what the rulebook defines and PostgreSQL
hashing the audit events into their chains as core.chain does (`_EVENT_COLUMNS`, `_chain_ctes`);
R-T09 (the intervention gate) writes its notices with one insert.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Sum
from django.utils import timezone

from core import chain, rulebook
from core.inserts import JSONText, array_literal, insert_rows, insert_select_sql, next_key_sql
from core.models import Event, EventChain, Notification
from core.services import notification_rows
from orders.models import Order, Shop
from orders.services import COMPLETED_REASON, completed_notice, late_shipment_note, late_shipment_notice
from penalties.models import LedgerEntry, LedgerMovement, Penalty, Sanction
from penalties.selectors import natural_year, points_bounds, points_window
from penalties.services import compensation_for, sanction_terms, sanction_thresholds_reached

from .engine import DEFERRED, BatchOutcome, claim_held, deadline_fields, wait_after_claim
from .models import Deadline

R_P01 = rulebook.PENALTIES["R-P01"]
R_P11_END = rulebook.timer("R-P11")
R_T01 = rulebook.timer("R-T01")
R_T16 = rulebook.timer("R-T16")

# --- audit events and notifications, many at once ------------------------------------------------

_CHAIN_HEADS_SQL = """
INSERT INTO {table} (subject_kind, subject_id, length, prev_hash, head_hash)
SELECT %s, sid, 0, '', %s FROM unnest(%s::bigint[]) AS sid
ON CONFLICT (subject_kind, subject_id) DO NOTHING
"""
_CHAIN_LOCK_SQL = """
SELECT id, subject_id, length, head_hash FROM {table}
WHERE subject_kind = %s AND subject_id = ANY(%s::bigint[]) ORDER BY subject_id FOR UPDATE
"""
_CHAIN_ADVANCE_SQL = """
UPDATE {table} AS c SET length = v.length, prev_hash = v.prev_hash, head_hash = v.head_hash
FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::text[]) AS v(id, length, prev_hash, head_hash)
WHERE c.id = v.id
"""


def _table(model: type[Any]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _heads_ctes() -> str:
    """The CTEs that advance the chain heads of the events of a statement's `ev` CTE (its columns
    subject_kind, subject_id, digest; a subject at most once): `moved` advances the heads that exist,
    the link computed by PostgreSQL with chain.link_sql (chain_append's formula), `started` starts the
    others, `heads` is both: (subject_kind, subject_id, length, prev_hash, head_hash). %(genesis)s."""
    heads = _table(EventChain)
    return f"""moved AS (
    UPDATE {heads} AS c
    SET length = c.length + 1, prev_hash = c.head_hash,
        head_hash = {chain.link_sql("c.head_hash", "c.length + 1", "ev.digest")}
    FROM ev WHERE c.subject_kind = ev.subject_kind AND c.subject_id = ev.subject_id
    RETURNING c.subject_kind, c.subject_id, c.length, c.prev_hash, c.head_hash
), started AS (
    INSERT INTO {heads} (subject_kind, subject_id, length, prev_hash, head_hash)
    SELECT ev.subject_kind, ev.subject_id, 1, %(genesis)s, {chain.link_sql("%(genesis)s", "1", "ev.digest")}
    FROM ev
    WHERE NOT EXISTS (SELECT 1 FROM moved m WHERE m.subject_kind = ev.subject_kind AND m.subject_id = ev.subject_id)
    RETURNING subject_kind, subject_id, length, prev_hash, head_hash
), heads AS (
    SELECT * FROM moved UNION ALL SELECT * FROM started
)"""  # noqa: S608 (the table and the expressions are constants; values travel as parameters)


@functools.cache
def _advance_once_sql() -> str:
    """Heads of one kind's subjects that get one event each (`%(ids)s`, `%(digests)s`), advanced in
    one statement (_heads_ctes); returns (subject_id, length, prev_hash, head_hash) each."""
    return f"""
WITH ev AS (
    SELECT %(kind)s::text AS subject_kind, v.sid AS subject_id, v.digest
    FROM unnest(%(ids)s::bigint[], %(digests)s::text[]) AS v(sid, digest)
), {_heads_ctes()}
SELECT subject_id, length, prev_hash, head_hash FROM heads
"""  # noqa: S608 (the statement's parts are constants; values travel as parameters)


def events_record_many(*, events: Sequence[dict[str, Any]], at: dt.datetime, fresh_kinds: Iterable[str] = ()) -> None:
    """Write system events (`subject_kind`, `subject_id`, `action`, `from_status`, `to_status`,
    `data`), each appended to its subject's hash chain exactly as core.services.event_record does
    (same content hash, same link), with one insert for all events.

    The chain heads, per subject kind:
    - `fresh_kinds`: subjects created in this very transaction (a batch's penalties and sanctions).
      Their chains start here: the links are computed here and the heads inserted with their final
      values in one statement (a head that exists already fails the insert, and the batch with it).
    - a kind whose subjects get one event each (the usual batch: one event per order): one statement
      advances every head, PostgreSQL computing the link as chain_append does, and starts the missing.
    - otherwise three statements: heads made where missing, locked in ascending subject id, advanced.

    A batch holds its subjects' locks before it writes their events (the engine's lock order), so no
    other writer advances these heads meanwhile."""
    table = EventChain._meta.db_table
    fresh = set(fresh_kinds)
    rows: list[dict[str, Any]] = []
    by_kind: dict[str, list[int]] = defaultdict(list)
    for e in events:
        data = chain.canonical_data(e.get("data"))
        data_json = JSONText(chain.canonical_json(data))  # hashed and written: serialised once
        fields = {
            "at": at,
            "actor_label": "system",
            "action": e["action"],
            "subject_kind": e["subject_kind"],
            "subject_id": e["subject_id"],
            "from_status": e.get("from_status", ""),
            "to_status": e.get("to_status", ""),
            "data": data,
        }
        digest = chain.content_hash(actor_id=None, data_json=data_json, **fields)
        rows.append({**fields, "data": data_json, "actor_id": None, "digest": digest})
        by_kind[e["subject_kind"]].append(e["subject_id"])
    once = {kind for kind, ids in by_kind.items() if kind not in fresh and len(set(ids)) == len(ids)}
    heads: dict[tuple[str, int], list] = {}  # (kind, subject id) -> [head id, length, prev_hash, head_hash]
    with connection.cursor() as cursor:
        for kind, ids in by_kind.items():
            unique = sorted(set(ids))
            if kind in fresh:
                heads.update({(kind, subject_id): [None, 0, "", chain.GENESIS] for subject_id in unique})
            elif kind in once:
                digests = {r["subject_id"]: r["digest"] for r in rows if r["subject_kind"] == kind}
                cursor.execute(
                    _advance_once_sql(),
                    {
                        "ids": array_literal(unique),
                        "digests": array_literal([digests[i] for i in unique]),
                        "kind": kind,
                        "genesis": chain.GENESIS,
                    },
                )
                linked = {subject_id: (length, prev, link) for subject_id, length, prev, link in cursor.fetchall()}
                if len(linked) != len(unique):
                    raise DatabaseError(f"{kind} chain heads: {len(linked)} of {len(unique)} advanced")
                for r in rows:
                    if r["subject_kind"] == kind:
                        r["seq"], r["prev_hash"], r["hash"] = linked[r["subject_id"]]
            else:
                cursor.execute(_CHAIN_HEADS_SQL.format(table=table), [kind, chain.GENESIS, array_literal(unique)])
                cursor.execute(_CHAIN_LOCK_SQL.format(table=table), [kind, array_literal(unique)])
                for head_id, subject_id, length, head_hash in cursor.fetchall():
                    heads[(kind, subject_id)] = [head_id, length, "", head_hash]
        for r in rows:
            if r["subject_kind"] in once:
                continue
            head = heads[(r["subject_kind"], r["subject_id"])]
            seq, prev_hash = head[1] + 1, head[3]
            link = chain.link_hash(prev_hash, seq, r["digest"])
            head[1], head[2], head[3] = seq, prev_hash, link
            r["seq"], r["prev_hash"], r["hash"] = seq, prev_hash, link
        advanced = [v for (kind, _), v in heads.items() if kind not in fresh]
        if advanced:
            cursor.execute(
                _CHAIN_ADVANCE_SQL.format(table=table),
                [array_literal([v[i] for v in advanced]) for i in range(4)],
            )
    insert_rows(
        EventChain,
        [
            {"subject_kind": kind, "subject_id": sid, "length": v[1], "prev_hash": v[2], "head_hash": v[3]}
            for (kind, sid), v in heads.items()
            if kind in fresh
        ],
        ids=False,
    )
    insert_rows(Event, rows, ids=False)


def notifications_many(*, messages: Iterable[tuple[Iterable, str, str, str, str, int | None]]) -> None:
    """core.services.notify for many messages: (user ids, kind, title, body, subject_kind, subject_id)
    each, duplicates and None dropped per message, one insert for all."""
    rows = [
        row
        for user_ids, kind, title, body, subject_kind, subject_id in messages
        for row in notification_rows(
            user_ids=user_ids, kind=kind, title=title, body=body, subject_kind=subject_kind, subject_id=subject_id
        )
    ]
    insert_rows(Notification, rows, ids=False)


# --- R-P11: where in a batch a shop crosses a sanction threshold -----------------------------------


# R-P11's two reads for a batch's shops (hundreds of them), written out on PostgreSQL with the shops as
# one array: the ORM prepared every id of an `IN` list one by one, and PostgreSQL parsed and planned a
# list of hundreds of parameters (#9: with the claim returning the subjects, the sweeping process's CPU
# per R-T01 firing went from 40-41 to 35-37 µs). The ORM elsewhere; tests/disputes/test_sweep_batch.py
# compares both reads with penalties.selectors and the ORM, for classes that reset yearly and not.
_IMPOSED_SQL = f"""
SELECT shop_id, threshold FROM {_table(Sanction)}
WHERE shop_id = ANY(%s::bigint[]) AND point_class = %s AND year = %s AND NOT status = %s
"""  # noqa: S608 (the table from the model's metadata; values travel as parameters)
_POINTS_SQL = f"""
SELECT shop_id, SUM(points) FROM {_table(Penalty)}
WHERE shop_id = ANY(%s::bigint[]) AND point_class = %s AND status = %s AND issued_at < %s{{since}}
GROUP BY shop_id
"""  # noqa: S608 (the table from the model's metadata; values travel as parameters)


def _imposed_thresholds(shops: Sequence[int], *, point_class: str, year: int) -> list[tuple[int, int]]:
    """`(shop_id, threshold)` of the shops' sanctions of `point_class` in `year` that stand (R-P11)."""
    if connection.vendor != "postgresql":
        qs = Sanction.objects.filter(shop_id__in=shops, point_class=point_class, year=year)
        return list(qs.exclude(status=Sanction.Status.LIFTED).values_list("shop_id", "threshold"))
    with connection.cursor() as cursor:
        cursor.execute(_IMPOSED_SQL, [array_literal(shops), point_class, year, Sanction.Status.LIFTED])
        return cursor.fetchall()


def _points_by_shop(shops: Sequence[int], *, point_class: str, year: int) -> list[tuple[int, int]]:
    """`(shop_id, points)` of the shops' active penalties counted in `year` (penalties.selectors
    points_bounds: the year's, or all up to its end for a class that does not reset)."""
    if connection.vendor != "postgresql":
        qs = Penalty.objects.filter(shop_id__in=shops, point_class=point_class, status=Penalty.Status.ACTIVE)
        qs = qs.filter(points_window(point_class=point_class, year=year))
        return list(qs.values("shop_id").annotate(s=Sum("points")).values_list("shop_id", "s"))
    start, end = points_bounds(point_class=point_class, year=year)
    sql = _POINTS_SQL.format(since="" if start is None else " AND issued_at >= %s")
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [array_literal(shops), point_class, Penalty.Status.ACTIVE, end, *([] if start is None else [start])]
        )
        return cursor.fetchall()


def sanctions_due(
    *, points: Sequence[tuple[int, int]], point_class: str, at: dt.datetime
) -> list[tuple[int, int, str, int | None, int]]:
    """R-P11 for a batch's penalties (`(shop_id, points)` each, in firing order): where firing them one
    by one would impose a sanction, as `(position, threshold, kind, days, points then)`. Two queries
    for the whole batch; the thresholds come from penalties.services.sanction_thresholds_reached, the
    rule's one definition, applied to each shop's running sum of the year's points."""
    shops = sorted({shop_id for shop_id, p in points if p > 0})
    if not shops:
        return []
    year = natural_year(at)
    imposed: dict[int, set[int]] = defaultdict(set)
    for shop_id, threshold in _imposed_thresholds(shops, point_class=point_class, year=year):
        imposed[shop_id].add(threshold)
    # A shop holding every threshold of the year already can cross none: its points need no sum.
    every = {t for t, _, _ in rulebook.sanction_thresholds(point_class)}
    shops = [shop_id for shop_id in shops if not every <= imposed[shop_id]]
    current = dict(_points_by_shop(shops, point_class=point_class, year=year)) if shops else {}
    running = {shop_id: int(current.get(shop_id) or 0) for shop_id in shops}
    due = []
    for i, (shop_id, p) in enumerate(points):
        if p <= 0 or shop_id not in running:  # no points, or nothing left to cross
            continue
        running[shop_id] += p
        for threshold, kind, days in sanction_thresholds_reached(
            point_class=point_class, points=running[shop_id], imposed=imposed[shop_id]
        ):
            due.append((i, threshold, kind, days, running[shop_id]))
            imposed[shop_id].add(threshold)
    return due


def sanctions_impose_many(
    *, due: Sequence[tuple[int, int, str, int | None, int]], penalties: Mapping[int, dict[str, Any]], owners: dict
) -> tuple[list[dict[str, Any]], list]:
    """Write the sanctions `sanctions_due` found (one insert, and one for their end deadlines) with
    the terms of penalties.services.sanction_terms; return their audit events and notices for the
    batch's own event and notification inserts."""
    terms = []
    for i, threshold, kind, days, points in due:
        p = penalties[i]
        crossing = Penalty(pk=p["id"], point_class=p["point_class"], issued_at=p["issued_at"])
        terms.append(
            sanction_terms(
                shop_id=p["shop_id"],
                penalty=crossing,
                threshold=threshold,
                kind=kind,
                days=days,
                points=points,
                year=natural_year(p["issued_at"]),
            )
        )
    ids = insert_rows(Sanction, [t["sanction"] for t in terms])
    insert_rows(
        Deadline,
        [
            deadline_fields(subject_kind="sanction", subject_id=pk, rule_id=R_P11_END.id, **t["end"])
            for t, pk in zip(terms, ids, strict=True)
            if t["end"] is not None
        ],
    )
    events = [
        {
            "subject_kind": "sanction",
            "subject_id": pk,
            "action": "sanction.imposed",
            "to_status": t["sanction"]["status"],
            "data": t["event"],
        }
        for t, pk in zip(terms, ids, strict=True)
    ]
    messages = [
        ([owners[t["sanction"]["shop_id"]]], "sanction.imposed", t["title"], t["body"], "sanction", pk)
        for t, pk in zip(terms, ids, strict=True)
    ]
    return events, messages


# --- audit events of a batch, written by PostgreSQL -------------------------------------------------

# The columns of a batch statement's `ev` CTE (one row per event; `e` its source: n, k, subject_kind,
# subject_id, action, from_status, to_status, data_json), with the content hash PostgreSQL computes as
# chain.content_hash does for an event of the system (no actor, label "system") at %(at_text)s.
_EVENT_COLUMNS = (
    "e.n, e.k, e.subject_kind, e.subject_id, e.action, e.from_status, e.to_status, e.data_json::jsonb AS data, "
    + chain.content_hash_sql(
        at="%(at_text)s",
        actor_id="NULL",
        actor_label="'system'",
        action="e.action",
        subject_kind="e.subject_kind",
        subject_id="e.subject_id",
        from_status="e.from_status",
        to_status="e.to_status",
        data_json="e.data_json",
    )
    + " AS digest"
)


@functools.cache
def _chain_ctes() -> str:
    """The CTEs that append the events of a batch statement's `ev` (_EVENT_COLUMNS) to their subjects'
    chains and write them, as event_record would one by one: `moved` advances the heads that exist
    (the link computed by chain.link_sql), `started` starts the others, `events` inserts the rows and
    returns one row each (the caller counts them). A subject may appear once in `ev`: one statement
    sees one version of a head. Parameters: %(at)s, %(genesis)s."""
    events = insert_select_sql(
        Event,
        {
            "at": "%(at)s",
            "actor_id": "NULL",
            "actor_label": "'system'",
            "action": "ev.action",
            "subject_kind": "ev.subject_kind",
            "subject_id": "ev.subject_id",
            "from_status": "ev.from_status",
            "to_status": "ev.to_status",
            "data": "ev.data",
            "seq": "h.length",
            "prev_hash": "h.prev_hash",
            "hash": "h.head_hash",
        },
        "FROM ev JOIN heads h ON h.subject_kind = ev.subject_kind AND h.subject_id = ev.subject_id ORDER BY ev.n, ev.k",
        returning="1",
    )
    return f"""), {_heads_ctes()}, events AS ({events}"""


# --- R-T01 -----------------------------------------------------------------------------------------

# The columns a batch's firings bring, one array each, aligned (a row per firing); `n` its position.
_R_T01_INPUT = (
    ("deadline", "bigint"),
    ("order_id", "bigint"),
    ("shop", "bigint"),
    ("buyer", "integer"),
    ("owner", "integer"),
    ("points", "integer"),
    ("amount", "text"),  # as str(Decimal) gives it: the event's data holds that text
    ("form", "text"),
    ("currency", "text"),
    ("note", "text"),
    ("title", "text"),
    ("body", "text"),
)


@functools.cache
def _r_t01_statement() -> str:
    """R-T01's whole action for a batch in one statement (order_ship_timeout_batch): the penalties
    (ids drawn from their sequence), their ledger movements and entries, the penalty's and the order's
    audit events hashed by PostgreSQL exactly as core.chain hashes them (content_hash_sql, link_sql),
    the orders' chain heads advanced or started and the penalties' started, the notifications. Returns
    each firing's penalty id by position and the number of events written (the caller checks it).
    The columns and the link formula come from the models and core.chain; every value is a parameter."""
    staff = Shop.staff.through
    staff_shop, staff_user = (staff._meta.get_field(f).column for f in ("shop", "user"))  # type: ignore[union-attr]
    arrays = ", ".join(f"%({name})s::{sql_type}[]" for name, sql_type in _R_T01_INPUT)
    names = ", ".join(name for name, _ in _R_T01_INPUT)
    # The events' data, as orders.services.order_late_shipment_penalise and penalty_issue write it.
    penalty_data = chain.canonical_object_sql(
        {
            "code": "%(code)s::text",
            "rule": "%(penalty_rule)s::text",
            "points": "due.points",
            "point_class": "%(point_class)s::text",
            "compensation": "due.amount",
            "form": "due.form",
            "source": "'order:' || due.order_id",
        }
    )
    order_data = chain.canonical_object_sql(
        {"rule": "'R-T01'::text", "deadline": "due.deadline", "penalty": "due.penalty_id", "compensation": "due.amount"}
    )
    penalties = insert_select_sql(
        Penalty,
        {
            "id": "due.penalty_id",
            "shop_id": "due.shop",
            "code": "%(code)s",
            "points": "due.points",
            "point_class": "%(point_class)s",
            "compensation_amount": "due.amount::numeric",
            "compensation_form": "due.form",
            "source_kind": "'order'",
            "source_id": "due.order_id",
            "order_id": "due.order_id",
            "beneficiary_id": "due.buyer",
            "deadline_id": "due.deadline",
            "status": "%(penalty_status)s",
            "issued_at": "%(at)s",
            "note": "due.note",
        },
        "FROM due",
    )
    movements = insert_select_sql(
        LedgerMovement,
        {
            "id": "due.movement_id",
            "at": "%(at)s",
            "debit": "'shop:' || due.shop",  # penalties.services.account_shop
            "credit": "'buyer:' || due.buyer",  # penalties.services.account_buyer
            "amount": "due.amount::numeric",
            "currency": "due.currency",
            "reason": "%(reason)s",
            "source_kind": "'order'",
            "source_id": "due.order_id",
            "order_id": "due.order_id",
            "shop_id": "due.shop",
            "penalty_id": "due.penalty_id",
        },
        "FROM due WHERE due.movement_id IS NOT NULL",
    )
    # R-P13: two entries that sum to zero, the shop's debited, the buyer's credited.
    entries = insert_select_sql(
        LedgerEntry,
        {
            "movement_id": "due.movement_id",
            "account": "CASE WHEN side.sign < 0 THEN 'shop:' || due.shop ELSE 'buyer:' || due.buyer END",
            "amount": "side.sign * due.amount::numeric",
            "currency": "due.currency",
        },
        "FROM due CROSS JOIN (VALUES (-1), (1)) AS side(sign) WHERE due.movement_id IS NOT NULL"
        " ORDER BY due.n, side.sign",
    )
    # notification_rows: each of the buyer, the owner and the staff once.
    notices = insert_select_sql(
        Notification,
        {
            "user_id": "u.id",
            "kind": "'order.late_shipment'",
            "title": "due.title",
            "body": "due.body",
            "subject_kind": "'order'",
            "subject_id": "due.order_id",
            "created_at": "%(at)s",
        },
        f"""FROM due CROSS JOIN LATERAL (
            SELECT DISTINCT x.id FROM (
                SELECT due.buyer UNION ALL SELECT due.owner
                UNION ALL SELECT st.{staff_user} FROM {_table(staff)} st WHERE st.{staff_shop} = due.shop
            ) AS x(id) WHERE x.id IS NOT NULL
        ) AS u ORDER BY due.n""",  # noqa: S608 (names from the models' metadata)
    )
    return f"""
WITH due AS MATERIALIZED (
    SELECT v.*, {next_key_sql(Penalty)} AS penalty_id,
           CASE WHEN v.amount::numeric > 0 THEN {next_key_sql(LedgerMovement)} END AS movement_id
    FROM unnest({arrays}) WITH ORDINALITY AS v({names}, n)
), penalties AS ({penalties}
), movements AS ({movements}
), entries AS ({entries}
), ev AS MATERIALIZED (
    SELECT {_EVENT_COLUMNS} FROM (
        SELECT due.n, 0 AS k, 'penalty'::text AS subject_kind, due.penalty_id AS subject_id,
               'penalty.issued'::text AS action, ''::text AS from_status, %(penalty_status)s::text AS to_status,
               {penalty_data} AS data_json
        FROM due
        UNION ALL
        SELECT due.n, 1, 'order', due.order_id, 'order.late_shipment', %(order_status)s, %(order_status)s, {order_data}
        FROM due
    ) AS e
{_chain_ctes()}
), notices AS ({notices}
)
SELECT due.n, due.penalty_id, (SELECT count(*) FROM events) FROM due ORDER BY due.n
"""  # noqa: S608 (tables, columns and expressions from the models and core.chain; values are parameters)


def order_ship_timeout_batch(*, deadlines: Sequence[Deadline], subjects: dict[int, Order]) -> dict[int, BatchOutcome]:
    """R-T01 timed out for many orders: what orders.services.order_ship_timeout does for one (penalty
    R-P01 via the rules of penalties.services, its compensation as a ledger movement, the penalty's and
    the order's audit events, the notification), in a handful of statements for the whole batch and
    almost no Python per firing: the rows are written by one statement (`_r_t01_statement`) from a few
    arrays, and PostgreSQL hashes the events into their chains as core.chain does.

    The engine holds the orders' and the deadlines' locks. Shops are locked here, ascending, as
    penalty_issue locks its shop (order, then shop); sanctions (R-P11) are checked for all shops of
    the batch at once (sanctions_due) and written with the terms of penalties.services (sanction_terms)."""
    now = timezone.now()
    outcomes: dict[int, BatchOutcome] = {}
    due = []
    seen: set[int] = set()
    for d in deadlines:
        order = subjects[d.subject_id]
        if order.status != Order.Status.PAID:
            outcomes[d.pk] = f"noop: order is {order.status}"
        elif order.pk in seen:  # a second ship clock on one order: its event would advance the chain twice
            outcomes[d.pk] = None
        else:
            seen.add(order.pk)
            due.append((d, order))
    if not due:
        return outcomes
    # The shops are locked as penalty_issue locks them (R-P11 reads their points under that lock), but
    # without waiting: a row whose shop another sweeper's batch holds is deferred to the next claim, so
    # concurrent sweepers fire disjoint shops side by side. Only when every shop is held does the
    # batch wait for them (ascending, as every writer does), so a sweep always moves on; inside a claim
    # that holds its deadlines' locks it never waits (engine.claim_held): the sweep waits after it.
    wanted = sorted({o.shop_id for _, o in due})
    lock = f"SELECT id, kind, owner_id FROM {_table(Shop)} WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(lock + " SKIP LOCKED", [array_literal(wanted)])
        shops = {pk: (kind, owner) for pk, kind, owner in cursor.fetchall()}
        if not shops and not claim_held():
            cursor.execute(lock, [array_literal(wanted)])
            shops = {pk: (kind, owner) for pk, kind, owner in cursor.fetchall()}
    if len(shops) < len(wanted):
        wait_after_claim(Shop, (pk for pk in wanted if pk not in shops))
        for d, order in due:
            if order.shop_id not in shops:
                outcomes[d.pk] = DEFERRED
        due = [(d, order) for d, order in due if order.shop_id in shops]
    if not due:
        return outcomes

    code = R_P01.code
    points_for = {kind: R_P01.points_for(kind) for kind, _ in shops.values()}
    tz = timezone.get_current_timezone()
    due_local: dict[dt.datetime, tuple[dt.datetime, str]] = {}  # local due time and the note: often shared
    columns: dict[str, list] = {name: [] for name, _ in _R_T01_INPUT}
    for d, order in due:
        kind, owner = shops[order.shop_id]
        amount, form = compensation_for(code=code, shop_kind=kind, base=order.total_amount)
        if (local := due_local.get(d.due_at)) is None:
            at = d.due_at.astimezone(tz)
            local = due_local[d.due_at] = (at, late_shipment_note(rule=R_T01.id, due_local=at))
        points = points_for[kind]
        title, body = late_shipment_notice(
            order_id=order.pk, rule=R_T01.id, due_local=local[0], points=points, amount=amount, form=form
        )
        columns["deadline"].append(d.pk)
        columns["order_id"].append(order.pk)
        columns["shop"].append(order.shop_id)
        columns["buyer"].append(order.buyer_id)
        columns["owner"].append(owner)
        columns["points"].append(points)
        columns["amount"].append(str(amount))
        columns["form"].append(form)
        columns["currency"].append(LedgerMovement.Currency.POINTS if form == Penalty.Form.POINTS else "CNY")
        columns["note"].append(local[1][:300])
        columns["title"].append(title)
        columns["body"].append(body)
    # R-P11, read before the batch's own penalties are written: where each shop crosses a threshold.
    crossings = sanctions_due(
        points=list(zip(columns["shop"], columns["points"], strict=True)), point_class=R_P01.point_class, at=now
    )
    # A penalty per deadline is unique in the database: a second firing fails here, whole.
    with connection.cursor() as cursor:
        cursor.execute(
            _r_t01_statement(),
            {
                **{name: array_literal(values) for name, values in columns.items()},
                "at": now,
                "at_text": chain.canonical_at(now),
                "genesis": chain.GENESIS,
                "code": code,
                "penalty_rule": R_P01.id,
                "point_class": R_P01.point_class,
                "penalty_status": Penalty.Status.ACTIVE,
                "order_status": Order.Status.PAID,
                "reason": f"compensation.{code}",
            },
        )
        written = cursor.fetchall()
    if len(written) != len(due) or written[0][2] != 2 * len(due):
        raise DatabaseError(f"R-T01 batch wrote {written[0][2] if written else 0} events for {len(due)} firings")
    penalty_ids = [pk for _, pk, _ in written]
    # Each sanction against the very penalty that crossed, with the points it saw then.
    if crossings:
        crossing_penalties = {
            i: {
                "id": penalty_ids[i],
                "shop_id": columns["shop"][i],
                "point_class": R_P01.point_class,
                "issued_at": now,
            }
            for i, *_ in crossings
        }
        events, messages = sanctions_impose_many(
            due=crossings,
            penalties=crossing_penalties,
            owners={pk: owner for pk, (_, owner) in shops.items()},
        )
        events_record_many(events=events, at=now, fresh_kinds=("sanction",))
        notifications_many(messages=messages)
    for (d, _), penalty_id in zip(due, penalty_ids, strict=True):
        outcomes[d.pk] = f"penalty {penalty_id}"
    return outcomes


# The engine loads only these of the locked orders (disputes.engine._fire_batch).
order_ship_timeout_batch.subject_fields = ("status", "shop", "buyer", "total_amount")  # type: ignore[attr-defined]


# --- R-T16 -----------------------------------------------------------------------------------------


@functools.cache
def _r_t16_statement() -> str:
    """R-T16's action for a batch in one statement (order_auto_confirm_batch): the orders completed,
    their other auto-confirm clocks cancelled, the `order.auto_confirmed` events on their chains, the
    buyer's and the owner's notices. Returns the numbers of orders, events and notices written."""
    notices = insert_select_sql(
        Notification,
        {
            "user_id": "u.id",
            "kind": "'order.completed'",
            "title": "due.title",
            "body": "due.body",
            "subject_kind": "'order'",
            "subject_id": "due.order_id",
            "created_at": "%(at)s",
        },
        """FROM due CROSS JOIN LATERAL (
            SELECT DISTINCT x.id FROM (VALUES (due.buyer), (due.owner)) AS x(id) WHERE x.id IS NOT NULL
        ) AS u ORDER BY due.n""",
        returning="1",
    )
    data = chain.canonical_object_sql({"rule": "%(rule)s::text", "deadline": "due.deadline"})
    return f"""
WITH due AS MATERIALIZED (
    SELECT v.deadline, v.order_id, v.before, v.title, v.body, v.n, o.buyer_id AS buyer, s.owner_id AS owner
    FROM unnest(%(deadline)s::bigint[], %(order_id)s::bigint[], %(before)s::text[], %(title)s::text[],
                %(body)s::text[]) WITH ORDINALITY AS v(deadline, order_id, before, title, body, n)
    JOIN {_table(Order)} o ON o.id = v.order_id JOIN {_table(Shop)} s ON s.id = o.shop_id
), completed AS (
    UPDATE {_table(Order)} AS o SET status = %(completed)s, completed_at = %(at)s, updated_at = %(at)s
    FROM due WHERE o.id = due.order_id RETURNING 1
), cancelled AS (
    UPDATE {_table(Deadline)} AS d
    SET status = %(cancelled)s, cancelled_at = %(at)s, cancel_reason = %(reason)s, not_before = NULL
    FROM due WHERE d.subject_kind = 'order' AND d.subject_id = due.order_id AND d.kind = %(kind)s
      AND d.status = %(pending)s AND NOT (d.id = ANY(%(deadline)s::bigint[]))
), ev AS MATERIALIZED (
    SELECT {_EVENT_COLUMNS} FROM (
        SELECT due.n, 0 AS k, 'order'::text AS subject_kind, due.order_id AS subject_id,
               'order.auto_confirmed'::text AS action, due.before AS from_status, %(completed)s::text AS to_status,
               {data} AS data_json
        FROM due
    ) AS e
{_chain_ctes()}
), notices AS ({notices}
)
SELECT (SELECT count(*) FROM completed), (SELECT count(*) FROM events), (SELECT count(*) FROM notices)
"""  # noqa: S608 (tables, columns and expressions from the models and core.chain; values are parameters)


def order_auto_confirm_batch(*, deadlines: Sequence[Deadline], subjects: dict[int, Order]) -> dict[int, BatchOutcome]:
    """R-T16 ran out for many orders: what orders.services.order_auto_confirm does for one (the order
    completed, its other auto-confirm clocks cancelled, the audit event, the buyer's and the owner's
    notice), in one statement for the whole batch (`_r_t16_statement`). On the peak day's tenth day
    after shipment this is the rule with the most firings: every order the buyer did not confirm.

    The engine holds the orders' and the deadlines' locks; nothing else is locked (no shop, no R-P11)."""
    now = timezone.now()
    outcomes: dict[int, BatchOutcome] = {}
    columns: dict[str, list] = {"deadline": [], "order_id": [], "before": [], "title": [], "body": []}
    seen: set[int] = set()
    for d in deadlines:
        order = subjects[d.subject_id]
        if order.status not in (Order.Status.SHIPPED, Order.Status.DELIVERED):
            outcomes[d.pk] = f"noop: order is {order.status}"
        elif order.pk in seen:  # a second clock on one order: the first one's firing cancels it, row by row
            outcomes[d.pk] = None
        else:
            seen.add(order.pk)
            columns["deadline"].append(d.pk)
            columns["order_id"].append(order.pk)
            columns["before"].append(order.status)
            title, body = completed_notice(order.pk)
            columns["title"].append(title)
            columns["body"].append(body)
    if not seen:
        return outcomes
    with connection.cursor() as cursor:
        cursor.execute(
            _r_t16_statement(),
            {
                **{name: array_literal(values) for name, values in columns.items()},
                "at": now,
                "at_text": chain.canonical_at(now),
                "genesis": chain.GENESIS,
                "rule": R_T16.id,
                "kind": R_T16.kind,
                "completed": Order.Status.COMPLETED,
                "cancelled": Deadline.Status.CANCELLED,
                "pending": Deadline.Status.PENDING,
                "reason": COMPLETED_REASON,
            },
        )
        orders, events, _ = cursor.fetchone()
    if orders != len(seen) or events != len(seen):
        raise DatabaseError(f"R-T16 batch completed {orders} orders and wrote {events} events for {len(seen)}")
    for deadline_id in columns["deadline"]:
        outcomes[deadline_id] = "completed"
    return outcomes


order_auto_confirm_batch.subject_fields = ("status",)  # type: ignore[attr-defined]


# --- R-T09 -----------------------------------------------------------------------------------------


def refund_intervention_gate_batch(
    *, deadlines: Sequence[Deadline], subjects: dict[int, Any]
) -> dict[int, BatchOutcome]:
    """R-T09 opened for many refunds: what refunds.refund_intervention_gate does for one (the buyer's
    notice that the platform may now be asked to intervene), one insert for the batch. Every refund
    filed starts this clock: fifteen days after a peak of filings, as many fall due.

    The engine holds the refunds' orders, the refunds and the deadlines locked."""
    from .services.refunds import intervention_notice, intervention_opens

    outcomes: dict[int, BatchOutcome] = {}
    messages = []
    for d in deadlines:
        refund = subjects[d.subject_id]
        if not intervention_opens(refund):
            outcomes[d.pk] = f"noop: refund is {refund.status}"
            continue
        title, body = intervention_notice(refund.pk)
        messages.append(([refund.buyer_id], "refund.intervention_open", title, body, "refund", refund.pk))
        outcomes[d.pk] = "gate open"
    notifications_many(messages=messages)
    return outcomes


refund_intervention_gate_batch.subject_fields = ("status", "buyer")  # type: ignore[attr-defined]
