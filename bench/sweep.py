"""Benches 1, 2, 3 and 6: the engine sweeping due deadlines with N worker processes.

Each worker is a fresh process (spawned, Django set up, connected) that waits for the start signal
and then runs `disputes.engine.enforce_deadlines` until nothing is due, as a Celery worker's sweep
task does. The rate is the due rows divided by the wall time from the signal to the last worker's
end. RSS of every worker is sampled every 0.5 s for bench 6.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import time

from django.db import connection

from bench import cpu, perf
from bench.waits import Sampler

BATCH = 500


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _worker(ready, go, rule_mode: str, batch: int, loop_until: float | None, interval: float) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from bench import minimal
    from disputes import engine

    if rule_mode == "per_row":
        minimal.register_per_row_only()
    else:
        minimal.register()
    if rule_mode == "rt01_per_row":
        from core import rulebook

        t = rulebook.TIMERS["R-T01"]
        rulebook.TIMERS["R-T01"] = rulebook.Timer(**{**t.__dict__, "batch_action": None})
    connection.ensure_connection()
    ready.set()
    go.wait()
    if loop_until is None:
        engine.enforce_deadlines(batch_size=batch)
        return
    # Steady state (bench 3): one sweep per interval, as the beat schedules them.
    while time.time() < loop_until:
        tick = time.time()
        engine.enforce_deadlines(batch_size=batch, time_budget=interval * 0.9)
        time.sleep(max(0.0, interval - (time.time() - tick)))


def run_workers(
    n: int,
    *,
    rule_mode: str = "batch",
    batch: int = BATCH,
    loop_until=None,
    interval: float = 5.0,
    sample_rss=False,
    window: cpu.Window | None = None,
    recording: perf.Recording | None = None,
    waits: Sampler | None = None,
):
    """Start `n` workers, release them together, wait. Returns (seconds, rss samples per worker).
    `window` reads the machine's CPU from the start signal to the last worker's end, `recording`
    samples it with perf (bench.perf), `waits` samples what the workers' backends wait for
    (bench.waits)."""
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    readies = [ctx.Event() for _ in range(n)]
    procs = [
        ctx.Process(target=_worker, args=(readies[i], go, rule_mode, batch, loop_until, interval)) for i in range(n)
    ]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(120)
    samples: dict[int, list[int]] = {p.pid: [] for p in procs}  # type: ignore[misc]
    if recording:
        recording.start()
    if waits:
        waits.start()
    if window:
        window.start()
    started = time.perf_counter()
    go.set()
    while any(p.is_alive() for p in procs):
        if sample_rss:
            for p in procs:
                try:
                    samples[p.pid].append(_rss_kib(p.pid))  # type: ignore[index]
                except (FileNotFoundError, ProcessLookupError):
                    pass
        time.sleep(0.5 if sample_rss else 0.05)
    seconds = time.perf_counter() - started
    if window:
        window.stop()
    if waits:
        waits.stop()
    if recording:
        recording.stop()
    for p in procs:
        p.join()
    return seconds, samples


def make_due(
    *, rule: str, kind: str, order_ids: tuple[int, int], due_at: dt.datetime | None = None, analyze: bool = True
) -> int:
    """Pending deadlines of `rule` on orders [a, b), due at `due_at` (default: a second ago), then the
    table analysed (`analyze`) so that a sweep that follows plans for them. Bench 3's feeder, which
    calls this five times a second, does not analyse: an ANALYZE of the deadlines takes about 0.3 s
    at bench size, so it kept a core busy beside the sweep it measured."""
    from django.utils import timezone

    from disputes.models import Deadline

    due_at = due_at or timezone.now() - dt.timedelta(seconds=1)
    with connection.cursor() as c:
        c.execute(
            f"""INSERT INTO {Deadline._meta.db_table}
            (subject_kind, subject_id, rule, kind, status, started_at, due_at, duration_amount, duration_unit,
             note, created_at, attempts, last_error, fired_by, outcome, cancel_reason)
            SELECT 'order', o, %s, %s, 'pending', %s, %s, 72, 'hours', '', now(), 0, '', '', '', ''
            FROM generate_series(%s, %s - 1) AS o""",
            [rule, kind, due_at - dt.timedelta(hours=72), due_at, order_ids[0], order_ids[1]],
        )
        n = c.rowcount
        if analyze:
            c.execute(f"ANALYZE {Deadline._meta.db_table}")
    return n


def reset_orders(order_ids: tuple[int, int], status: str = "paid") -> None:
    """Orders [a, b) back to `status`: paid for R-T01 and the minimal rule, shipped for R-T16."""
    with connection.cursor() as c:
        c.execute("UPDATE orders_order SET status = %s WHERE id >= %s AND id < %s", [status, *order_ids])


def pending_due_count(rule: str) -> int:
    with connection.cursor() as c:
        c.execute(
            "SELECT count(*) FROM disputes_deadline WHERE rule = %s AND status = 'pending' AND due_at <= now()", [rule]
        )
        return c.fetchone()[0]


def fired_count(rule: str, since_id: int) -> int:
    with connection.cursor() as c:
        c.execute(
            "SELECT count(*) FROM disputes_deadline WHERE rule = %s AND id >= %s AND status = 'fired'", [rule, since_id]
        )
        return c.fetchone()[0]


def max_deadline_id() -> int:
    with connection.cursor() as c:
        c.execute("SELECT COALESCE(max(id), 0) FROM disputes_deadline")
        return c.fetchone()[0]


def analyze() -> None:
    """Refresh the planner's statistics, as autovacuum's analyze would have done between two bursts
    (this machine's PostgreSQL runs with autovacuum off). Without it a table that grew since it was
    last analysed (the chain heads: empty at load, a million after bench 6) is planned as if it were
    still small: the chain heads' lookup then scanned every order's head, 1,025/s instead of 5,154/s
    for the minimal rule in process."""
    with connection.cursor() as c:
        c.execute("ANALYZE")


def vacuum() -> None:
    """VACUUM ANALYZE, as autovacuum would have done between two bursts: the dead versions earlier
    sweeps left (leases, fired marks, reset orders and heads) are cleared, so that sweeps compared with
    each other start from the same state (bench 2). Then a CHECKPOINT: the pages the set-up dirtied (a
    COPY of 990,000 deadlines, this vacuum) are written out before the sweep, not by a checkpoint that
    runs through it. On the thirteenth machine bench 2's sweeps with 1,000,000 pending ran while the
    checkpoint their load had started wrote for 123 s (the server's log): 77 %, where every earlier
    machine measured 103-117 %. After a checkpoint every sweep pays alike for the first change of each
    page (its full image in the WAL)."""
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE")
        c.execute("CHECKPOINT")


def sweep(
    *,
    rule: str,
    kind: str,
    orders: tuple[int, int],
    workers: int,
    rule_mode: str = "batch",
    batch: int = BATCH,
    sample_rss=False,
    clean: bool = False,
    window: cpu.Window | None = None,
    recording: perf.Recording | None = None,
    waits: Sampler | None = None,
):
    """Make `orders` due under `rule`, sweep with `workers` processes: (fired, seconds, rss samples).
    `clean`: vacuum first instead of only analysing; `window`: the machine's CPU over the sweep;
    `recording`: perf's samples of it; `waits`: its backends' wait events (bench.waits)."""
    if rule == "X-B01":
        reset_orders(orders)
    first = max_deadline_id() + 1
    n = make_due(rule=rule, kind=kind, order_ids=orders)
    vacuum() if clean else analyze()  # outside the measured window
    seconds, samples = run_workers(
        workers,
        rule_mode=rule_mode,
        batch=batch,
        sample_rss=sample_rss,
        window=window,
        recording=recording,
        waits=waits,
    )
    fired = fired_count(rule, first)
    left = pending_due_count(rule)
    if fired != n or left:
        print(f"  !! {rule}: {fired} of {n} fired, {left} still due", flush=True)
    return fired, seconds, samples


def lateness(
    *, rate: float, seconds: float, workers: int, interval: float, orders: tuple[int, int], clean: bool = False
) -> dict:
    """Bench 3: a feeder makes `rate` deadlines per second fall due (X-B01) for `seconds` while the
    workers sweep once per `interval`; returns p50/p99/max of fired_at - due_at. `clean`: vacuum
    first instead of only analysing (what earlier benches left behind cleared, as autovacuum would)."""
    from django.utils import timezone

    reset_orders(orders)
    vacuum() if clean else analyze()
    first = max_deadline_id() + 1
    until = time.time() + seconds + interval * 2
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    readies = [ctx.Event() for _ in range(workers)]
    procs = [
        ctx.Process(target=_worker, args=(readies[i], go, "batch", BATCH, until, interval)) for i in range(workers)
    ]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(120)
    go.set()
    next_order = orders[0]
    started = time.time()
    step = 0.2
    made = 0
    while time.time() - started < seconds and next_order < orders[1]:
        tick = time.time()
        want = int(rate * (tick - started + step)) - made
        if want > 0:
            n = make_due(
                rule="X-B01",
                kind="x_b01_bench_minimal",
                order_ids=(next_order, min(next_order + want, orders[1])),
                due_at=timezone.now(),
                analyze=False,  # planned from the vacuumed statistics above, as between autovacuum's runs
            )
            next_order += n
            made += n
        time.sleep(max(0.0, step - (time.time() - tick)))
    for p in procs:
        p.join()
    with connection.cursor() as c:
        c.execute(
            """SELECT count(*) FILTER (WHERE status = 'fired'), count(*),
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - due_at)),
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - due_at)),
                      max(extract(epoch FROM fired_at - due_at))
               FROM disputes_deadline WHERE rule = 'X-B01' AND id >= %s""",
            [first],
        )
        fired, total, p50, p99, worst = c.fetchone()
    return {"made": total, "fired": fired, "p50": p50 or 0.0, "p99": p99 or 0.0, "max": worst or 0.0}
