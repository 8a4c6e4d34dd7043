"""The references of bench 1, beside the engine on the same PostgreSQL:

- `sweeper`: a hand-written sweeper in plain psycopg2, N processes, each claiming 500 due rows with
  SKIP LOCKED and firing them set-based (lock subjects, subject status, one audit row, mark fired),
  no Django and no hash chain. The bound of what set-based SQL does on this machine.
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


def dsn() -> str:
    return os.environ["DATABASE_URL"]


def _sweeper(ready, go, limit: int) -> None:
    conn = psycopg2.connect(dsn())
    ready.set()
    go.wait()
    with conn.cursor() as c:
        while True:
            c.execute(CLAIM_AND_FIRE, {"rule": RULE, "limit": limit})
            n = c.rowcount
            conn.commit()
            if n == 0:
                return


def run_sweeper(processes: int = 2, limit: int = 500) -> float:
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    readies = [ctx.Event() for _ in range(processes)]
    procs = [ctx.Process(target=_sweeper, args=(readies[i], go, limit)) for i in range(processes)]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(60)
    started = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    return time.perf_counter() - started


# --- one Celery task per deadline ------------------------------------------------------------------

BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")


def celery_app():
    from celery import Celery

    app = Celery("bench_ref", broker=BROKER)
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


def run_pgbench(*, clients: int = 2, seconds: int = 30, scale: int = 10) -> float | None:
    exe = pgbench_bin()
    if exe is None:
        return None
    base = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
    subprocess.run(["dropdb", *base, "--if-exists", "disputes_pgbench"], check=True)
    subprocess.run(["createdb", *base, "disputes_pgbench"], check=True)
    subprocess.run([exe, *base, "-i", "-q", "-s", str(scale), "disputes_pgbench"], check=True, capture_output=True)
    out = subprocess.run(
        [exe, *base, "-c", str(clients), "-j", str(clients), "-T", str(seconds), "disputes_pgbench"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    subprocess.run(["dropdb", *base, "--if-exists", "disputes_pgbench"], check=True)
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else None
