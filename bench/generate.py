"""Data generator (issue #9): users, shops, orders, refunds, complaints, cases and pending deadlines,
loaded with COPY (psycopg2 `copy_expert`), ids assigned here and the sequences moved past them.

Proportions (defaults; `--scale` multiplies them): 100,000 buyers, 5,000 shops (30 % mall), 20 agents;
1,200,000 orders, of which 200,000 paid and not shipped (the ones whose R-T01 clock runs out on the
day) and the rest shipped / delivered / completed; 800,000 refunds and 200,000 complaints, every one
of them in arbitration so that the agents' queue holds 1,000,000 cases (real traffic has far fewer
cases per refund: the queue's size is what bench 5 needs); future pending deadlines across R-T04,
R-T10, R-T12 and R-T16, due from one hour to thirty days ahead.

    python -m bench.generate base            # everything above but the future deadlines
    python -m bench.generate future 1000000  # add pending future deadlines (prints the load time)
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import sys
import time
from collections.abc import Callable, Iterable
from decimal import Decimal

import django

if __name__ == "__main__":
    django.setup()

from django.db import connection, models
from django.utils import timezone

CHUNK = 100_000


def _cell(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value)
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return text


def copy_rows(model: type[models.Model], rows: Iterable[dict], *, fixed: dict | None = None) -> int:
    """COPY `rows` (dicts of column -> value) into `model`'s table; every other column takes the
    model field's default (computed once), `fixed` values, or NULL."""
    fields = [f for f in model._meta.concrete_fields]
    columns = [f.column for f in fields]
    now = timezone.now()
    base: dict = {}
    for f in fields:
        if f.has_default():
            base[f.column] = f.get_default()
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            base[f.column] = now
        elif f.null:
            base[f.column] = None
        elif isinstance(f, models.CharField | models.TextField):
            base[f.column] = ""
    base.update(fixed or {})
    table = model._meta.db_table
    total = 0
    buf = io.StringIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg2 cursor under Django's wrapper
        for row in rows:
            merged = {**base, **row}
            buf.write("\t".join([_cell(merged[c]) for c in columns]) + "\n")
            total += 1
            if total % CHUNK == 0:
                buf.seek(0)
                raw.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)
                buf.seek(0)
                buf.truncate()
        if buf.tell():
            buf.seek(0)
            raw.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)
    return total


def reset_sequence(model: type[models.Model]) -> None:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1)) FROM {table}")


def _next_id(model: type[models.Model]) -> int:
    return (model.objects.aggregate(m=models.Max("id"))["m"] or 0) + 1


def _timed(label: str, fn: Callable[[], int]) -> int:
    started = time.perf_counter()
    n = fn()
    print(f"  loaded {n:>9,} {label} in {time.perf_counter() - started:6.1f} s", flush=True)
    return n


def generate_base(*, scale: float = 1.0, seed: int = 11) -> dict:
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from disputes.models import Case, Complaint, Refund
    from orders.models import Order, Shop

    rnd = random.Random(seed)
    now = timezone.now()
    n_buyers, n_shops, n_agents = int(100_000 * scale), max(int(5_000 * scale), 10), 20
    n_orders, n_paid = int(1_200_000 * scale), int(200_000 * scale)
    n_refunds, n_complaints = int(800_000 * scale), int(200_000 * scale)
    started = time.perf_counter()

    groups = dict(Group.objects.values_list("name", "id"))
    u0 = _next_id(User)
    buyers = range(u0, u0 + n_buyers)
    sellers = range(buyers.stop, buyers.stop + n_shops)
    agents = range(sellers.stop, sellers.stop + n_agents)

    def users():
        for i in buyers:
            yield {"id": i, "username": f"b{i}", "password": "!", "date_joined": now}
        for i in sellers:
            yield {"id": i, "username": f"s{i}", "password": "!", "date_joined": now}
        for i in agents:
            yield {"id": i, "username": f"agent{i}", "password": "!", "date_joined": now}

    _timed("users", lambda: copy_rows(User, users(), fixed={"is_active": True}))
    reset_sequence(User)
    membership = User.groups.through

    def memberships():
        for i in buyers:
            yield {"user_id": i, "group_id": groups["buyer"]}
        for i in sellers:
            yield {"user_id": i, "group_id": groups["seller"]}
        for i in agents:
            yield {"user_id": i, "group_id": groups["agent"]}

    copy_rows(membership, ({"id": n, **m} for n, m in enumerate(memberships(), start=_next_id(membership))))
    reset_sequence(membership)

    s0 = _next_id(Shop)
    shops = range(s0, s0 + n_shops)
    kinds = {s: ("mall" if rnd.random() < 0.3 else "marketplace") for s in shops}
    _timed(
        "shops",
        lambda: copy_rows(
            Shop,
            (
                {"id": s, "name": f"店铺{s}", "kind": kinds[s], "owner_id": sellers[k], "created_at": now}
                for k, s in enumerate(shops)
            ),
        ),
    )
    reset_sequence(Shop)

    o0 = _next_id(Order)
    orders = range(o0, o0 + n_orders)
    statuses = ["shipped", "delivered", "completed"]

    def order_rows():
        for k, o in enumerate(orders):
            paid_at = now - dt.timedelta(hours=72 + rnd.random() * 24 * 20)
            row = {
                "id": o,
                "shop_id": shops[rnd.randrange(n_shops)],
                "buyer_id": buyers[rnd.randrange(n_buyers)],
                "total_amount": Decimal(rnd.randrange(500, 200_000)) / 100,
                "created_at": paid_at - dt.timedelta(minutes=5),
                "paid_at": paid_at,
                "ship_by": paid_at + dt.timedelta(hours=72),
            }
            if k < n_paid:
                row["status"] = "paid"
            else:
                row["status"] = statuses[k % 3]
                row["shipped_at"] = paid_at + dt.timedelta(hours=20)
            yield row

    _timed("orders", lambda: copy_rows(Order, order_rows()))
    reset_sequence(Order)
    order_meta = dict(Order.objects.filter(id__gte=n_paid + o0).values_list("id", "shop_id"))
    order_buyer = dict(Order.objects.filter(id__gte=n_paid + o0).values_list("id", "buyer_id"))

    r0 = _next_id(Refund)
    refund_orders = range(o0 + n_paid, o0 + n_paid + n_refunds)

    def refund_rows():
        for k, o in enumerate(refund_orders):
            yield {
                "id": r0 + k,
                "order_id": o,
                "shop_id": order_meta[o],
                "buyer_id": order_buyer[o],
                "created_by_id": order_buyer[o],
                "kind": "return_and_refund",
                "reason": "quality_issue",
                "stage": "received",
                "amount": Decimal("10.00"),
                "status": "in_arbitration",
                "created_at": now - dt.timedelta(days=rnd.random() * 20),
            }

    _timed("refunds", lambda: copy_rows(Refund, refund_rows()))
    reset_sequence(Refund)

    c0 = _next_id(Complaint)
    complaint_orders = range(refund_orders.stop, refund_orders.stop + n_complaints)

    def complaint_rows():
        for k, o in enumerate(complaint_orders):
            yield {
                "id": c0 + k,
                "order_id": o,
                "shop_id": order_meta[o],
                "buyer_id": order_buyer[o],
                "created_by_id": order_buyer[o],
                "type": "misdescription",
                "severity": "minor",
                "status": "in_arbitration",
                "created_at": now - dt.timedelta(days=rnd.random() * 20),
            }

    _timed("complaints", lambda: copy_rows(Complaint, complaint_rows()))
    reset_sequence(Complaint)

    k0 = _next_id(Case)
    case_status = ["open"] * 6 + ["awaiting_evidence", "under_review", "under_review", "ruled"]

    def case_rows():
        k = k0
        for j, o in enumerate(refund_orders):
            yield _case(k, "refund", {"refund_id": r0 + j}, o)
            k += 1
        for j, o in enumerate(complaint_orders):
            yield _case(k, "complaint", {"complaint_id": c0 + j}, o)
            k += 1

    def _case(k, kind, subject, o):
        return {
            "id": k,
            "kind": kind,
            **subject,
            "order_id": o,
            "shop_id": order_meta[o],
            "buyer_id": order_buyer[o],
            "status": case_status[k % len(case_status)],
            "assignee_id": agents[k % n_agents] if k % 3 else None,
            "opened_at": now - dt.timedelta(days=rnd.random() * 10),
            "next_due_at": now + dt.timedelta(hours=rnd.random() * 24 * 7),
            "overdue": rnd.random() < 0.02,
            "created_at": now,
        }

    _timed("cases", lambda: copy_rows(Case, case_rows()))
    reset_sequence(Case)
    for agent in agents[:1]:
        Token.objects.get_or_create(user_id=agent)
    print(f"  base data in {time.perf_counter() - started:.1f} s", flush=True)
    return {"paid_orders": (o0, o0 + n_paid), "refunds": (r0, r0 + n_refunds), "complaints": (c0, c0 + n_complaints)}


def generate_future_deadlines(n: int, *, seed: int = 22) -> float:
    """Add `n` pending deadlines due 1 h to 30 days ahead, on existing refunds, complaints, cases and
    orders. Returns the seconds the load took (COPY, then ANALYZE)."""
    from disputes.models import Case, Complaint, Deadline, Refund
    from orders.models import Order

    rnd = random.Random(seed)
    now = timezone.now()
    spans = {
        "refund": (Refund.objects.aggregate(a=models.Min("id"), b=models.Max("id")), "R-T04", "r_t04_seller_answer"),
        "complaint": (Complaint.objects.aggregate(a=models.Min("id"), b=models.Max("id")), "R-T10", "r_t10_appeal"),
        "case": (Case.objects.aggregate(a=models.Min("id"), b=models.Max("id")), "R-T12", "r_t12_platform_sla"),
        "order": (Order.objects.aggregate(a=models.Min("id"), b=models.Max("id")), "R-T16", "r_t16_auto_confirm"),
    }
    weights = [("refund", 0.4), ("complaint", 0.1), ("case", 0.2), ("order", 0.3)]
    d0 = _next_id(Deadline)

    def rows():
        for k in range(n):
            x, acc = rnd.random(), 0.0
            kind = weights[-1][0]
            for name, w in weights:
                acc += w
                if x <= acc:
                    kind = name
                    break
            span, rule, dkind = spans[kind]
            due = now + dt.timedelta(hours=1 + rnd.random() * 24 * 30)
            yield {
                "id": d0 + k,
                "subject_kind": kind,
                "subject_id": rnd.randint(span["a"] or 1, span["b"] or 1),
                "rule": rule,
                "kind": dkind,
                "status": "pending",
                "started_at": now,
                "due_at": due,
                "duration_amount": 5,
                "duration_unit": "days",
                "created_at": now,
            }

    started = time.perf_counter()
    copy_rows(Deadline, rows())
    reset_sequence(Deadline)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Deadline._meta.db_table}")
    return time.perf_counter() - started


def remove_deadlines(first_id: int, n: int) -> float:
    """Delete the `n` deadlines from `first_id` on (those `generate_future_deadlines` loaded, bench 2's
    10,000 state measured again). Returns the seconds it took; the sweeps' vacuum clears what is left."""
    from disputes.models import Deadline

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Deadline._meta.db_table} WHERE id >= %s AND id < %s", [first_id, first_id + n])
    return time.perf_counter() - started


def set_future_pending(n: int) -> float:
    """Bring the pending deadlines due in the future to `n` (bench.alternate): the newest beyond the
    oldest `n` deleted, or the missing ones loaded (`generate_future_deadlines`); no other deadline is
    touched. Returns the seconds it took."""
    from disputes.models import Deadline

    started, now = time.perf_counter(), timezone.now()
    future = Deadline.objects.filter(status=Deadline.Status.PENDING, due_at__gt=now)
    have = future.count()
    if have < n:
        generate_future_deadlines(n - have)
    elif have > n:
        first = future.order_by("id").values_list("id", flat=True)[n]
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {Deadline._meta.db_table} WHERE status = %s AND due_at > %s AND id >= %s",
                [Deadline.Status.PENDING, now, first],
            )
    return time.perf_counter() - started


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "base"
    if what == "base":
        generate_base(scale=float(sys.argv[2]) if len(sys.argv) > 2 else 1.0)
        with connection.cursor() as c:
            c.execute("VACUUM ANALYZE") if connection.get_autocommit() else None
    elif what == "future":
        count = int(sys.argv[2])
        seconds = generate_future_deadlines(count)
        print(f"  loaded {count:>9,} pending deadlines in {seconds:6.1f} s (COPY + ANALYZE)", flush=True)
