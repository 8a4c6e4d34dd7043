"""Set-based firing of hot rules (issue #9): the same effects as the per-row timeout actions, written
with a handful of bulk statements per batch instead of a dozen statements per row.

The engine (disputes.engine.deadlines_fire_batch) has already locked the orders, the subjects and the
deadlines and checked each is still pending; a batch action returns `{deadline_id: outcome}`, or
None for a row it hands back to the per-row path (the reference for correctness). The per-row
actions stay the definition of what a firing does; tests/disputes/test_sweep_batch.py checks both
paths leave the same rows behind.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Sum
from django.utils import timezone

from core import chain, rulebook
from core.inserts import JSONText, insert_rows
from core.models import Event, EventChain, Notification
from core.services import notification_rows
from orders.models import Order, Shop
from penalties.models import LedgerEntry, LedgerMovement, Penalty, Sanction
from penalties.selectors import natural_year, points_window
from penalties.services import compensation_for, sanction_terms, sanction_thresholds_reached

from .engine import DEFERRED, BatchOutcome, deadline_fields
from .models import Deadline

R_P01 = rulebook.PENALTIES["R-P01"]
R_P11_END = rulebook.timer("R-P11")

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


# Heads of subjects that get one event each, advanced in one statement: the link computed by
# PostgreSQL with chain.link_sql (the formula of chain_append), a head started for a subject without one.
_ADVANCE_ONCE_SQL = f"""
WITH v AS (SELECT * FROM unnest(%(ids)s::bigint[], %(digests)s::text[]) AS v(sid, digest)),
moved AS (
    UPDATE {{table}} AS c
    SET length = c.length + 1, prev_hash = c.head_hash,
        head_hash = {chain.link_sql("c.head_hash", "c.length + 1", "v.digest")}
    FROM v WHERE c.subject_kind = %(kind)s AND c.subject_id = v.sid
    RETURNING c.subject_id, c.length, c.prev_hash, c.head_hash
),
started AS (
    INSERT INTO {{table}} (subject_kind, subject_id, length, prev_hash, head_hash)
    SELECT %(kind)s, v.sid, 1, %(genesis)s, {chain.link_sql("%(genesis)s", "1", "v.digest")}
    FROM v WHERE NOT EXISTS (SELECT 1 FROM moved WHERE moved.subject_id = v.sid)
    RETURNING subject_id, length, prev_hash, head_hash
)
SELECT * FROM moved UNION ALL SELECT * FROM started
"""  # noqa: S608 (the table and the expressions are constants; values travel as parameters)


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
                    _ADVANCE_ONCE_SQL.format(table=table),
                    {"ids": unique, "digests": [digests[i] for i in unique], "kind": kind, "genesis": chain.GENESIS},
                )
                linked = {subject_id: (length, prev, link) for subject_id, length, prev, link in cursor.fetchall()}
                if len(linked) != len(unique):
                    raise DatabaseError(f"{kind} chain heads: {len(linked)} of {len(unique)} advanced")
                for r in rows:
                    if r["subject_kind"] == kind:
                        r["seq"], r["prev_hash"], r["hash"] = linked[r["subject_id"]]
            else:
                cursor.execute(_CHAIN_HEADS_SQL.format(table=table), [kind, chain.GENESIS, unique])
                cursor.execute(_CHAIN_LOCK_SQL.format(table=table), [kind, unique])
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
                [
                    [v[0] for v in advanced],
                    [v[1] for v in advanced],
                    [v[2] for v in advanced],
                    [v[3] for v in advanced],
                ],
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
    for shop_id, threshold in (
        Sanction.objects.filter(shop_id__in=shops, point_class=point_class, year=year)
        .exclude(status=Sanction.Status.LIFTED)
        .values_list("shop_id", "threshold")
    ):
        imposed[shop_id].add(threshold)
    # A shop holding every threshold of the year already can cross none: its points need no sum.
    every = {t for t, _, _ in rulebook.sanction_thresholds(point_class)}
    shops = [shop_id for shop_id in shops if not every <= imposed[shop_id]]
    current = dict(
        Penalty.objects.filter(shop_id__in=shops, point_class=point_class, status=Penalty.Status.ACTIVE)
        .filter(points_window(point_class=point_class, year=year))
        .values("shop_id")
        .annotate(s=Sum("points"))
        .values_list("shop_id", "s")
    )
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
    *, due: Sequence[tuple[int, int, str, int | None, int]], penalties: Sequence[dict[str, Any]], owners: dict
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


# --- R-T01 -----------------------------------------------------------------------------------------


def order_ship_timeout_batch(*, deadlines: Sequence[Deadline], subjects: dict[int, Order]) -> dict[int, BatchOutcome]:
    """R-T01 timed out for many orders: what orders.services.order_ship_timeout does for one (penalty
    R-P01 via the rules of penalties.services, its compensation as a ledger movement, the penalty's and
    the order's audit events, the notification), in about fifteen statements for the whole batch.

    The engine holds the orders' and the deadlines' locks. Shops are locked here, ascending, as
    penalty_issue locks its shop (order, then shop); sanctions (R-P11) are checked for all shops of
    the batch at once (sanctions_due) and written with the terms of penalties.services (sanction_terms)."""
    now = timezone.now()
    outcomes: dict[int, BatchOutcome] = {}
    due = []
    for d in deadlines:
        order = subjects[d.subject_id]
        if order.status != Order.Status.PAID:
            outcomes[d.pk] = f"noop: order is {order.status}"
        else:
            due.append((d, order))
    if not due:
        return outcomes
    # The shops are locked as penalty_issue locks them (R-P11 reads their points under that lock), but
    # without waiting: a row whose shop another sweeper's batch holds is deferred to the next claim, so
    # concurrent sweepers fire disjoint shops side by side. Only when every shop is held does the
    # batch wait for them (ascending, as every writer does), so a sweep always moves on.
    wanted = sorted({o.shop_id for _, o in due})
    locking = Shop.objects.select_for_update(of=("self",)).filter(pk__in=wanted).only("kind", "owner").order_by("pk")
    shops = {s.pk: s for s in locking.select_for_update(of=("self",), skip_locked=True)} or {s.pk: s for s in locking}
    if len(shops) < len(wanted):
        for d, order in due:
            if order.shop_id not in shops:
                outcomes[d.pk] = DEFERRED
        due = [(d, order) for d, order in due if order.shop_id in shops]
    staff: dict[int, list[int]] = defaultdict(list)  # the shop's people: owner and staff (_shop_people)
    for shop_id, user_id in (
        Shop.staff.through.objects.filter(shop_id__in=list(shops)).order_by("id").values_list("shop_id", "user_id")
    ):
        staff[shop_id].append(user_id)

    code = R_P01.code
    points_for = {kind: R_P01.points_for(kind) for kind in {shop.kind for shop in shops.values()}}
    tz = timezone.get_current_timezone()
    due_texts: dict[dt.datetime, tuple[str, str]] = {}  # local due time, to the second and minute: often shared
    penalties: list[dict[str, Any]] = []
    for d, order in due:
        shop = shops[order.shop_id]
        amount, form = compensation_for(code=code, shop_kind=shop.kind, base=order.total_amount)
        if (texts := due_texts.get(d.due_at)) is None:
            local = d.due_at.astimezone(tz)
            texts = due_texts[d.due_at] = (f"{local:%Y-%m-%d %H:%M:%S}", f"{local:%Y-%m-%d %H:%M}")
        penalties.append(
            {
                "shop_id": shop.id,
                "code": code,
                "points": points_for[shop.kind],
                "point_class": R_P01.point_class,
                "compensation_amount": amount,
                "compensation_form": form,
                "source_kind": "order",
                "source_id": order.id,
                "order_id": order.id,
                "beneficiary_id": order.buyer_id,
                "deadline_id": d.id,
                "status": Penalty.Status.ACTIVE,
                "issued_at": now,
                "note": f"R-T01 ship_by {texts[0]}"[:300],
            }
        )
    # R-P11, read before the batch's own penalties are written: where each shop crosses a threshold.
    crossings = sanctions_due(
        points=[(p["shop_id"], p["points"]) for p in penalties], point_class=R_P01.point_class, at=now
    )
    # A penalty per deadline is unique in the database: a second firing fails here, whole.
    for p, pk in zip(penalties, insert_rows(Penalty, penalties), strict=True):
        p["id"] = pk
    # Each sanction against the very penalty that crossed, with the points it saw then.
    events, messages = sanctions_impose_many(
        due=crossings, penalties=penalties, owners={pk: shop.owner_id for pk, shop in shops.items()}
    )

    # R-P13: compensation is a ledger movement of two entries that sum to zero.
    moved = [p for p in penalties if p["compensation_amount"] > 0]
    movements: list[dict[str, Any]] = [
        {
            "at": now,
            "debit": f"shop:{p['shop_id']}",  # penalties.services.account_shop
            "credit": f"buyer:{p['beneficiary_id']}",  # penalties.services.account_buyer
            "amount": p["compensation_amount"],
            "currency": LedgerMovement.Currency.POINTS if p["compensation_form"] == Penalty.Form.POINTS else "CNY",
            "reason": f"compensation.{code}",
            "source_kind": "order",
            "source_id": p["source_id"],
            "order_id": p["source_id"],
            "shop_id": p["shop_id"],
            "penalty_id": p["id"],
        }
        for p in moved
    ]
    movement_ids = insert_rows(LedgerMovement, movements)
    insert_rows(
        LedgerEntry,
        [
            entry
            for m, mid in zip(movements, movement_ids, strict=True)
            for entry in (
                {"movement_id": mid, "account": m["debit"], "amount": -Decimal(m["amount"]), "currency": m["currency"]},
                {"movement_id": mid, "account": m["credit"], "amount": Decimal(m["amount"]), "currency": m["currency"]},
            )
        ],
        ids=False,
    )

    for (d, order), p in zip(due, penalties, strict=True):
        shop = shops[order.shop_id]
        events.append(
            {
                "subject_kind": "penalty",
                "subject_id": p["id"],
                "action": "penalty.issued",
                "to_status": p["status"],
                "data": {
                    "code": code,
                    "rule": R_P01.id,
                    "points": p["points"],
                    "point_class": R_P01.point_class,
                    "compensation": str(p["compensation_amount"]),
                    "form": p["compensation_form"],
                    "source": f"order:{order.id}",
                },
            }
        )
        events.append(
            {
                "subject_kind": "order",
                "subject_id": order.id,
                "action": "order.late_shipment",
                "from_status": order.status,
                "to_status": order.status,
                "data": {
                    "rule": "R-T01",
                    "deadline": d.id,
                    "penalty": p["id"],
                    "compensation": str(p["compensation_amount"]),
                },
            }
        )
        messages.append(
            (
                [order.buyer_id, shop.owner_id, *staff[shop.id]],
                "order.late_shipment",
                f"订单 {order.id} 延迟发货 (R-T01)",
                (
                    f"卖家未在 {due_texts[d.due_at][1]} 前发货:扣 {p['points']} 分,"
                    f"违约金 {p['compensation_amount']} ({p['compensation_form']})。买家可申请延迟发货退款。"
                ),
                "order",
                order.id,
            )
        )
        outcomes[d.id] = f"penalty {p['id']}"
    events_record_many(events=events, at=now, fresh_kinds=("penalty", "sanction"))
    notifications_many(messages=messages)
    return outcomes


# The engine loads only these of the locked orders (disputes.engine._fire_batch).
order_ship_timeout_batch.subject_fields = ("status", "shop", "buyer", "total_amount")  # type: ignore[attr-defined]
