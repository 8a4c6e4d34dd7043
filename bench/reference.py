"""The references of bench 1, beside the engine on the same PostgreSQL:

- `sweeper`: a hand-written sweeper in plain psycopg2, N processes, each claiming 500 due rows with
  SKIP LOCKED and firing them set-based (lock subjects, subject status, one audit row, mark fired),
  no Django and no hash chain. The bound of what set-based SQL does on this machine.
- `sweeper_full`: the same sweeper firing the full R-T01 action in one statement per batch of 500:
  shops locked, penalty R-P01 with its compensation, the ledger movement and its two entries, the
  penalty's and the order's events (content hashed by PostgreSQL, no chain), the notices to the buyer
  and the shop's people, the deadline marked. No R-P11 check, no Django: the bound of what set-based
  SQL does with the full action's rows on this machine (bench 1 prints it beside the engine's R-T01).
- `celery`: one Celery task per deadline (Redis broker, concurrency 2), each firing one deadline
  in its own transaction with the same minimal firing, in plain psycopg2.
- `pgbench`: TPC-B, 2 clients, in its own database.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import subprocess
import sys
import time

import psycopg2

from bench import cpu

RULE = "X-REF"

CLAIM_AND_FIRE = """
WITH claimed AS (
    SELECT id, subject_id FROM disputes_deadline
    WHERE status = 'pending' AND paused_at IS NULL AND due_at <= now() AND rule = %(rule)s
      AND (not_before IS NULL OR not_before <= now())
    ORDER BY due_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), locked AS (
    SELECT o.id, o.status FROM orders_order o JOIN claimed c ON c.subject_id = o.id ORDER BY o.id FOR UPDATE OF o
), changed AS (
    UPDATE orders_order o SET status = 'closed' FROM locked l WHERE o.id = l.id RETURNING o.id, l.status AS before
), audited AS (
    INSERT INTO core_event (at, actor_label, action, subject_kind, subject_id, from_status, to_status, data,
                            prev_hash, hash)
    SELECT now(), 'system', 'bench.closed', 'order', id, before, 'closed', '{}'::jsonb, '', '' FROM changed
)
UPDATE disputes_deadline d SET status = 'fired', fired_at = now(), fired_by = 'reference', outcome = 'closed',
       not_before = NULL
FROM claimed c WHERE d.id = c.id
"""

FIRE_ONE = """
WITH d AS (SELECT id, subject_id FROM disputes_deadline WHERE id = %(id)s AND status = 'pending' FOR UPDATE),
o AS (SELECT o.id, o.status FROM orders_order o JOIN d ON d.subject_id = o.id FOR UPDATE OF o),
changed AS (UPDATE orders_order x SET status = 'closed' FROM o WHERE x.id = o.id RETURNING x.id, o.status AS before),
audited AS (
    INSERT INTO core_event (at, actor_label, action, subject_kind, subject_id, from_status, to_status, data,
                            prev_hash, hash)
    SELECT now(), 'system', 'bench.closed', 'order', id, before, 'closed', '{}'::jsonb, '', '' FROM changed
)
UPDATE disputes_deadline x SET status = 'fired', fired_at = now(), fired_by = 'celery', outcome = 'closed'
FROM d WHERE x.id = d.id
"""


# The full R-T01 action, set-based, in one statement. Ids are drawn from the sequences in a
# materialised CTE so that the penalty, its movement and the entries refer to each other. The shops are
# locked as the engine locks them (order_ship_timeout_batch): without waiting, a row whose shop the other
# sweeper holds left pending for a later statement. Locked with a plain FOR UPDATE, two sweepers took turns
# on the shops their batches share and fired at about one sweeper's rate (2026-12-03: 4,744/s with two,
# 4,516/s with one, the cores 58 % busy).
CLAIM_AND_FIRE_FULL = """
WITH claimed AS MATERIALIZED (
    SELECT id, subject_id, due_at FROM disputes_deadline
    WHERE status = 'pending' AND paused_at IS NULL AND due_at <= now() AND rule = %(rule)s
      AND (not_before IS NULL OR not_before <= now())
    ORDER BY due_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), locked AS MATERIALIZED (
    SELECT o.id, o.status, o.shop_id, o.buyer_id, o.total_amount
    FROM orders_order o JOIN claimed c ON c.subject_id = o.id ORDER BY o.id FOR UPDATE OF o
), shops AS MATERIALIZED (
    SELECT s.id, s.kind, s.owner_id FROM orders_shop s WHERE s.id IN (SELECT shop_id FROM locked)
    ORDER BY s.id FOR UPDATE SKIP LOCKED
), due AS MATERIALIZED (
    SELECT c.id AS deadline_id, c.due_at, l.id AS order_id, l.shop_id, l.buyer_id, s.owner_id,
           CASE WHEN s.kind = 'mall' THEN %(mall_points)s ELSE %(market_points)s END AS points,
           CASE WHEN s.kind = 'mall'
                THEN round(least(l.total_amount * %(mall_pct)s / 100, %(mall_max)s), 2) * %(points_per_yuan)s
                ELSE round(least(greatest(l.total_amount * %(market_pct)s / 100, %(market_min)s), %(market_max)s), 2)
           END AS amount,
           CASE WHEN s.kind = 'mall' THEN 'points' ELSE 'cash' END AS form,
           nextval('penalties_penalty_id_seq') AS penalty_id,
           nextval('penalties_ledgermovement_id_seq') AS movement_id
    FROM claimed c JOIN locked l ON l.id = c.subject_id JOIN shops s ON s.id = l.shop_id
    WHERE l.status = 'paid'
), penalties AS (
    INSERT INTO penalties_penalty (id, code, points, point_class, compensation_amount, compensation_form,
        source_kind, source_id, status, issued_at, note, revoke_reason, beneficiary_id, deadline_id, order_id,
        shop_id, item_action, severity, sku)
    SELECT penalty_id, %(code)s, points, %(point_class)s, amount, form, 'order', order_id, 'active', now(),
           'R-T01 ship_by ' || to_char(due_at, 'YYYY-MM-DD HH24:MI:SS'), '', buyer_id, deadline_id, order_id,
           shop_id, '', '', ''
    FROM due
), movements AS (
    INSERT INTO penalties_ledgermovement (id, at, debit, credit, amount, currency, reason, source_kind, source_id,
        order_id, shop_id, penalty_id)
    SELECT movement_id, now(), 'shop:' || shop_id, 'buyer:' || buyer_id, amount,
           CASE WHEN form = 'points' THEN 'points' ELSE 'CNY' END, 'compensation.' || %(code)s, 'order', order_id,
           order_id, shop_id, penalty_id
    FROM due WHERE amount > 0
), entries AS (
    INSERT INTO penalties_ledgerentry (movement_id, account, amount, currency)
    SELECT movement_id, CASE WHEN side < 0 THEN 'shop:' || shop_id ELSE 'buyer:' || buyer_id END, side * amount,
           CASE WHEN form = 'points' THEN 'points' ELSE 'CNY' END
    FROM due CROSS JOIN (VALUES (-1), (1)) AS sides(side) WHERE amount > 0
), events AS (
    INSERT INTO core_event (at, actor_label, action, subject_kind, subject_id, from_status, to_status, data,
                            prev_hash, hash)
    SELECT now(), 'system', e.action, e.kind, e.sid, e.before, e.after, e.data, '',
           encode(sha256(convert_to(e.data::text, 'UTF8')), 'hex')
    FROM due CROSS JOIN LATERAL (VALUES
        ('penalty.issued', 'penalty', due.penalty_id, '', 'active',
         jsonb_build_object('code', %(code)s, 'rule', %(penalty_rule)s, 'points', due.points,
                            'point_class', %(point_class)s, 'compensation', due.amount::text, 'form', due.form,
                            'source', 'order:' || due.order_id)),
        ('order.late_shipment', 'order', due.order_id, 'paid', 'paid',
         jsonb_build_object('rule', 'R-T01', 'deadline', due.deadline_id, 'penalty', due.penalty_id,
                            'compensation', due.amount::text))
    ) AS e(action, kind, sid, before, after, data)
), notices AS (
    INSERT INTO core_notification (kind, title, body, subject_kind, subject_id, created_at, user_id)
    SELECT 'order.late_shipment', '订单 ' || due.order_id || ' 延迟发货 (R-T01)',
           '卖家未在 ' || to_char(due.due_at, 'YYYY-MM-DD HH24:MI') || ' 前发货:扣 ' || due.points || ' 分,违约金 '
           || due.amount || ' (' || due.form || ')。买家可申请延迟发货退款。', 'order', due.order_id, now(), u.user_id
    FROM due CROSS JOIN LATERAL (
        SELECT due.buyer_id UNION SELECT due.owner_id
        UNION SELECT st.user_id FROM orders_shop_staff st WHERE st.shop_id = due.shop_id
    ) AS u(user_id)
)
UPDATE disputes_deadline d SET status = 'fired', fired_at = now(), fired_by = 'reference', not_before = NULL,
       outcome = coalesce('penalty ' || due.penalty_id, 'noop')
FROM claimed c JOIN locked l ON l.id = c.subject_id LEFT JOIN due ON due.deadline_id = c.id
WHERE d.id = c.id AND (due.deadline_id IS NOT NULL OR l.status <> 'paid')
"""
# What is still due, for a sweeper whose last statement fired nothing: a batch can fire nothing while
# every one of its shops is held by the other sweeper (CLAIM_AND_FIRE_FULL skips them, as the engine does).
STILL_DUE = """
SELECT EXISTS (SELECT 1 FROM disputes_deadline WHERE status = 'pending' AND paused_at IS NULL AND due_at <= now()
               AND rule = %(rule)s AND (not_before IS NULL OR not_before <= now()))
"""


def full_parameters() -> dict:
    """R-P01's code, class, points and compensation, from the rulebook (the engine reads the same)."""
    from core import rulebook

    rule = rulebook.PENALTIES["R-P01"]
    market, mall = (rule.compensation[kind] for kind in (rulebook.ShopKind.MARKETPLACE, rulebook.ShopKind.MALL))
    return {
        "code": rule.code,
        "penalty_rule": rule.id,
        "point_class": rule.point_class,
        "market_points": rule.points_for(rulebook.ShopKind.MARKETPLACE),
        "mall_points": rule.points_for(rulebook.ShopKind.MALL),
        "market_pct": market.percent,
        "market_min": market.minimum or 0,
        "market_max": market.maximum,
        "mall_pct": mall.percent,
        "mall_max": mall.maximum,
        "points_per_yuan": int(rulebook.resolve(rulebook.PLATFORM_POINTS_PER_YUAN)),
    }


def dsn() -> str:
    return os.environ["DATABASE_URL"]


def _sweeper(ready, go, limit: int, statement: str, parameters: dict, async_commit: bool) -> None:
    conn = psycopg2.connect(dsn())
    if async_commit:  # as the engine's sweeper commits (DEADLINE_SWEEP_ASYNC_COMMIT)
        with conn.cursor() as c:
            c.execute("SET synchronous_commit = off")
        conn.commit()
    ready.set()
    go.wait()
    with conn.cursor() as c:
        while True:
            c.execute(statement, {"rule": RULE, "limit": limit, **parameters})
            n = c.rowcount
            conn.commit()
            if n == 0:
                c.execute(STILL_DUE, {"rule": RULE})
                (still,) = c.fetchone()
                conn.commit()
                if not still:
                    return


def run_sweeper(processes: int = 2, limit: int = 500, *, full: bool = False, window: cpu.Window | None = None) -> float:
    """Seconds to sweep the due `X-REF` rows; `full`: with the full R-T01 action (CLAIM_AND_FIRE_FULL),
    committed as the engine's sweeper commits (asynchronously: the bound of the engine on equal terms;
    the minimal reference commits as plain psycopg2 does, as the issue describes it); `window`: the
    machine's CPU over the sweep."""
    from django.conf import settings

    ctx = mp.get_context("spawn")
    go = ctx.Event()
    readies = [ctx.Event() for _ in range(processes)]
    statement, parameters = (CLAIM_AND_FIRE_FULL, full_parameters()) if full else (CLAIM_AND_FIRE, {})
    async_commit = full and settings.DEADLINE_SWEEP_ASYNC_COMMIT
    procs = [
        ctx.Process(target=_sweeper, args=(readies[i], go, limit, statement, parameters, async_commit))
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(60)
    if window:
        window.start()
    started = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    seconds = time.perf_counter() - started
    if window:
        window.stop()
    return seconds


# --- one Celery task per deadline ------------------------------------------------------------------

BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")


def celery_app():
    """The bench's own Celery app (its broker, its queue). Not made the process's current app: the
    product's tasks (`shared_task`) are sent through the current app, and a process that imports this
    module (the test suite does) would otherwise send them to the bench's broker."""
    from celery import Celery

    app = Celery("bench_ref", broker=BROKER, set_as_current=False)
    app.conf.update(
        task_ignore_result=True,
        worker_prefetch_multiplier=4,
        task_acks_late=True,
        task_default_queue="bench_ref",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


app = celery_app()
_conn = None


@app.task(name="bench.fire_one")
def fire_one(deadline_id: int) -> None:
    """One deadline in its own transaction: lock it, lock its order, change it, audit, mark fired."""
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg2.connect(dsn())
    with _conn.cursor() as c:
        c.execute(FIRE_ONE, {"id": deadline_id})
    _conn.commit()


def run_celery(ids: list[int], *, concurrency: int = 2) -> tuple[int, float]:
    """Enqueue one task per id (worker stopped), start a worker, wait until all fired. The rate's
    window is first to last fired_at (worker start-up excluded)."""
    app.control.purge()
    with app.producer_or_acquire() as producer:
        for deadline_id in ids:
            fire_one.apply_async((deadline_id,), producer=producer)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.reference",
            "worker",
            "-Q",
            "bench_ref",
            "-c",
            str(concurrency),
            "--pool",
            "prefork",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    conn = psycopg2.connect(dsn())
    conn.autocommit = True
    deadline = time.time() + 900
    try:
        with conn.cursor() as c:
            while time.time() < deadline:
                c.execute("SELECT count(*) FROM disputes_deadline WHERE id = ANY(%s) AND status = 'fired'", [ids])
                if c.fetchone()[0] >= len(ids):
                    break
                time.sleep(0.5)
            c.execute(
                "SELECT count(*), extract(epoch FROM max(fired_at) - min(fired_at)) FROM disputes_deadline "
                "WHERE id = ANY(%s) AND status = 'fired'",
                [ids],
            )
            fired, span = c.fetchone()
    finally:
        worker.terminate()
        worker.wait(30)
        conn.close()
    return fired, float(span or 0.0)


# --- pgbench -----------------------------------------------------------------------------------------


def pgbench_bin() -> str | None:
    for candidate in ("/usr/bin/pgbench", *sorted(__import__("glob").glob("/usr/lib/postgresql/*/bin/pgbench"))):
        if os.path.exists(candidate):
            return candidate
    return None


def run_pgbench(
    *, clients: int = 2, seconds: int = 30, scale: int = 10, window: cpu.Window | None = None
) -> float | None:
    """pgbench TPC-B (its default script) for `seconds` on a fresh database of `scale`: tps.
    `window`: the machine's CPU over the timed run (not the initialisation)."""
    exe = pgbench_bin()
    if exe is None:
        return None
    base = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
    subprocess.run(["dropdb", *base, "--if-exists", "disputes_pgbench"], check=True)
    subprocess.run(["createdb", *base, "disputes_pgbench"], check=True)
    subprocess.run([exe, *base, "-i", "-q", "-s", str(scale), "disputes_pgbench"], check=True, capture_output=True)
    if window:
        window.start()
    out = subprocess.run(
        [exe, *base, "-c", str(clients), "-j", str(clients), "-T", str(seconds), "disputes_pgbench"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if window:
        window.stop()
    subprocess.run(["dropdb", *base, "--if-exists", "disputes_pgbench"], check=True)
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else None
