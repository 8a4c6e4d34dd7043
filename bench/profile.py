"""Profile one rule's sweep in process, on the loaded bench database (a tool for work on bench 1).

    .venv/bin/python -m bench.profile R-T01 10000          # rate, statements, SQL vs Python time
    .venv/bin/python -m bench.profile R-T01 10000 --cprofile   # and the top functions by own time
    .venv/bin/python -m bench.profile R-T01 20000 --phases     # the process's CPU by engine function (bench.phases)
    .venv/bin/python -m bench.profile R-T01 20000 --workers 2  # the rate of N spawned sweepers
    .venv/bin/python -m bench.profile R-T01 50000 --workers 2 --perf  # and where the machine's CPU goes (bench.perf)
    .venv/bin/python -m bench.profile R-T01 50000 --workers 2 --clean # vacuumed and checkpointed first, as in bench 1
    .venv/bin/python -m bench.profile R-T01 20000 --workers 2 --clean --wal  # and its WAL, record by record (bench.wal)
    .venv/bin/python -m bench.profile R-T01 50000 --workers 2 --clean --waits  # what its backends wait on (bench.waits)
    .venv/bin/python -m bench.profile R-T16 20000              # R-T16 auto-confirm, on orders made shipped

Makes `n` deadlines of the rule due on the first `n` orders (paid again first), sweeps them with
`disputes.engine.enforce_deadlines` in this process, and splits the wall time into the time spent
waiting for PostgreSQL (every statement, timed by an execute wrapper) and the rest (Python).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import time

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/disputes_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

KINDS = {"R-T01": "r_t01_ship", "R-T16": "r_t16_auto_confirm", "X-B01": "x_b01_bench_minimal"}
# What an order must be for the rule to act on it (R-T16 confirms shipped orders).
STATUS = {"R-T16": "shipped"}


class StatementTimer:
    """An execute wrapper (`connection.execute_wrapper(timer)`) that times every statement: `totals`
    holds the count (`n`), the wall seconds (`s`, mostly waiting for PostgreSQL) and this process's
    CPU seconds inside the calls (`cpu`: the driver's work — parameters, parsing the rows — which
    `s` cannot tell from the wait), `by_statement` the count and wall seconds per statement text
    (first 110 chars)."""

    def __init__(self) -> None:
        self.totals = {"n": 0, "s": 0.0, "cpu": 0.0}
        self.by_statement: dict[str, list] = {}

    def __call__(self, execute, query, params, many, context):
        t, c = time.perf_counter(), time.process_time()
        try:
            return execute(query, params, many, context)
        finally:
            spent = time.perf_counter() - t
            self.totals["cpu"] += time.process_time() - c
            self.totals["n"] += 1
            self.totals["s"] += spent
            row = self.by_statement.setdefault(" ".join(query.split())[:110], [0, 0.0])
            row[0] += 1
            row[1] += spent


def _phase_targets(engine, batch) -> list[tuple[object, str]]:
    """What `--phases` wraps: the engine's sweep, claim and batch steps, the batch actions and what
    they call per batch, and the array literals wherever they are imported. A name that no longer
    exists fails the run (Phases), rather than silently leaving its time to "the rest"."""
    steps = {
        engine: [
            "deadlines_sweep_batch",
            "_sweep_in_claim",
            "_claim_locked",
            "_claim",
            "_grouped",
            "_lease",
            "_fire_batch_in_claim",
            "deadlines_fire_batch",
            "_fire_batch",
            "_lock_instances",
            "_instances",
            "_existing",
            "_async_commit",
            "array_literal",
        ],
        batch: [
            "order_ship_timeout_batch",
            "order_auto_confirm_batch",
            "refund_intervention_gate_batch",
            "sanctions_due",
            "sanctions_impose_many",
            "events_record_many",
            "notifications_many",
            "array_literal",
        ],
    }
    return [(module, name) for module, names in steps.items() for name in names]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rule")
    parser.add_argument("n", type=int)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument(
        "--phases", action="store_true", help="this process's CPU by engine and batch function (bench.phases)"
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="sweep with N spawned workers instead (the rate and the machine's CPU)"
    )
    parser.add_argument("--perf", action="store_true", help="with --workers: sample the machine with perf (bench.perf)")
    parser.add_argument(
        "--wal", action="store_true", help="with --workers: the sweep's WAL, record by record (bench.wal)"
    )
    parser.add_argument(
        "--waits",
        action="store_true",
        help="with --workers: what the workers' backends wait for, and pg_stat_wal over the sweep (bench.waits)",
    )
    parser.add_argument(
        "--clean", action="store_true", help="with --workers: VACUUM and CHECKPOINT first, as bench 1's sweeps do"
    )
    args = parser.parse_args()
    if args.phases and args.workers:
        parser.error("--phases splits this process's CPU: without --workers")

    import django

    django.setup()
    from django.db import connection

    from bench import cpu, minimal, perf, sweep, waits, wal
    from bench.phases import Phases
    from disputes import batch, engine
    from orders.models import Order

    minimal.register()
    o0 = Order.objects.order_by("id").values_list("id", flat=True).first()
    span = (o0, o0 + args.n)
    sweep.reset_orders(span, STATUS.get(args.rule, "paid"))
    if args.workers:
        if args.perf and (why := perf.available()):
            parser.error(f"--perf: {why}")
        if args.wal and (why := wal.available(connection)):
            parser.error(f"--wal: {why}")
        window, recording = cpu.Window(wal=True), perf.Recording() if args.perf else None
        sampler = waits.Sampler() if args.waits else None
        fired, seconds, _ = sweep.sweep(
            rule=args.rule,
            kind=KINDS[args.rule],
            orders=span,
            workers=args.workers,
            batch=args.batch,
            clean=args.clean,
            window=window,
            recording=recording,
            waits=sampler,
        )
        print(
            f"{args.rule}: {fired:,} fired in {seconds:.2f} s = {fired / seconds:,.0f}/s, {args.workers} workers; "
            f"the machine's CPU {window.per(fired):.0f} µs per firing (cores {window.share:.0%} busy); "
            f"WAL {window.wal_per(fired):,.0f} bytes per firing ({window.wal_lsns})"
        )
        if recording:
            print(recording.profile().line())
        if sampler:
            print(sampler.waits.line(fired))
        if args.wal and window.wal_bytes is not None:
            anatomy, names = wal.read(connection, *window.wal_range)
            print(anatomy.line(fired, names, unit="firing"))
        return
    sweep.make_due(rule=args.rule, kind=KINDS[args.rule], order_ids=span)

    timer = StatementTimer()
    sql, by_statement = timer.totals, timer.by_statement
    prof = cProfile.Profile() if args.cprofile else None
    phases = Phases(_phase_targets(engine, batch), connection)
    server = cpu.Backend(connection).start()  # the PostgreSQL backend's CPU: the server's share
    with connection.execute_wrapper(timer), phases if args.phases else contextlib.nullcontext():
        started, own = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        fired = engine.enforce_deadlines(batch_size=args.batch)
        if prof:
            prof.disable()
        seconds, own = time.perf_counter() - started, time.process_time() - own
    server.stop()
    print(
        f"{args.rule}: {fired:,} fired in {seconds:.2f} s = {fired / seconds:,.0f}/s, 1 process; "
        f"{sql['n']:,} statements ({sql['n'] / max(fired, 1):.3f} per firing), "
        f"SQL {sql['s']:.2f} s ({sql['s'] / seconds:.0%}), Python {seconds - sql['s']:.2f} s "
        f"(this process's CPU {own:.2f} s: {own / max(fired, 1) * 1e6:.0f} µs per firing, steadier than wall time "
        f"while the machine is busy; {sql['cpu'] / max(fired, 1) * 1e6:.0f} µs of it inside the statements' calls); "
        f"its PostgreSQL backend's CPU {server.cpu / max(fired, 1) * 1e6:.0f} µs per firing "
        f"({server.system / max(fired, 1) * 1e6:.0f} µs of it in the kernel)"
    )
    for key, (n, spent) in sorted(by_statement.items(), key=lambda kv: -kv[1][1])[:15]:
        print(f"  {spent:6.2f} s {n:5d}x  {key}")
    if args.phases:
        print("this process's CPU, function by function (own time; bench.phases):")
        for line in phases.lines(total=own, n=max(fired, 1), unit="firing"):
            print(line)
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        pstats.Stats(prof).sort_stats("cumtime").print_stats("work/main/(disputes|core|penalties|bench)", 30)


if __name__ == "__main__":
    main()
