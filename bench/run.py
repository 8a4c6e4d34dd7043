"""`make bench`: create the `disputes_bench` database, load it, run benches 1-6, print one line each.

    .venv/bin/python -m bench.run            # full size (about 20-30 minutes on 2 cores)
    .venv/bin/python -m bench.run --small    # a smoke run at 2 % size (a minute or two)
    .venv/bin/python -m bench.run --only 1,5 # some benches (the data is loaded either way)

Everything runs against 127.0.0.1 only: PostgreSQL (`BENCH_DATABASE_URL`, default
postgres://postgres@127.0.0.1:5432/disputes_bench, dropped and created), Redis db 15 for the Celery
reference, pgbench in its own database. Lines starting with `bench` are the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from bench import cpu

BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/disputes_bench")
os.environ["DATABASE_URL"] = BENCH_DB
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
os.environ.setdefault("DEADLINE_SWEEP_INTERVAL_SECONDS", "2")  # bench 3: at 50 % load a sweep takes interval/2
os.environ.setdefault("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")
# The app's cache (throttles, the capped counts) is process memory unless BENCH_APP_REDIS_URL names a
# Redis database for it, as a deployment's REDIS_URL does (docs/DEPLOY.md); the Celery reference has its own.
os.environ.pop("REDIS_URL", None)
if os.environ.get("BENCH_APP_REDIS_URL"):
    os.environ["REDIS_URL"] = os.environ["BENCH_APP_REDIS_URL"]


# The issue's figures of 2026-11-22: pgbench 1,765 tps and the reference sweeper 45,255 firings/s, so its
# target "R-T01 >= 5 x pgbench" asked for 19.5 % of the reference sweeper on that machine. pgbench is
# bound by the WAL's flush and the reference by the CPU, so the same target asks a different share of
# the reference on another machine; the runner prints both.
ISSUE_5X_PGBENCH_OF_REFERENCE = 5 * 1_765 / 45_255


def near(value: float, target: float, *, pct: bool) -> str:
    """`value` as a verdict's figure, or a bound's beside the target it stands for: a whole percent (pct)
    or a ratio to one decimal, with decimals added (up to three) while that rounding would print the
    target itself (49.9 % of bare misses 50 %, and "50% MISSED" would not say by how much; RUN102; the
    bounds by hand printed 5.0x for 4.96 and 50% for 49.8 % until RUN140)."""
    places = 0 if pct else 1
    while True:
        shown, aim = (
            (f"{value:.{places}%}", f"{target:.{places}%}") if pct else (f"{value:.{places}f}", f"{target:.{places}f}")
        )
        if shown != aim or value == target or places >= 3:
            return shown
        places += 1


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def setup_database() -> None:
    name = BENCH_DB.rsplit("/", 1)[1]
    base = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
    sh("dropdb", *base, "--if-exists", "--force", name)
    sh("createdb", *base, name)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0", "--skip-checks"], check=True, env=env)


def machine() -> str:
    load = open("/proc/loadavg").read().split()[:3]
    return f"{os.cpu_count()} cores, load {' '.join(load)}"


def say(line: str) -> None:
    print(line, flush=True)


# Bench 2's sizes at full scale: the future pending deadlines of its two states, and the deadlines each
# of its sweeps fires (bench.alternate measures the same states with them).
SCALE_FUTURE_SMALL, SCALE_FUTURE_BIG = 10_000, 1_000_000
SCALE_SWEEP = 20_000


class ScaleState(NamedTuple):
    """Bench 2's medians for one state: the sweep rate, the machine's CPU (µs) and WAL (bytes) per firing."""

    rate: float
    cpu_us: float
    wal_bytes: float


def minimal_rate(
    first_order: int,
    workers: int,
    n: int,
    mode: str = "batch",
    clean: bool = False,
    window: cpu.Window | None = None,
) -> float:
    """Bench 1's minimal rule (X-B01) made due on `n` orders from `first_order` and swept: firings a second."""
    from bench import sweep

    fired, seconds, _ = sweep.sweep(
        rule="X-B01",
        kind="x_b01_bench_minimal",
        orders=(first_order, first_order + n),
        workers=workers,
        rule_mode=mode,
        clean=clean,
        window=window,
    )
    return fired / seconds


def scale_state(first_order: int, n: int) -> ScaleState:
    """Bench 2's figures for one state: the median of three sweeps of the minimal rule due on `n` orders
    from `first_order` (20,000 at full size; one sweep of 3 s moved by a tenth from run to run on the
    RUN8 machine, as much as the target's margin), each after a VACUUM: without it the later sweeps
    wade through the dead index entries of the earlier ones (this server runs without autovacuum), and
    the sweeps with 1,000,000 pending, which come last, measured the garbage of the first ones rather
    than the pending rows (75 % at 21:05, RUN8 session). Returns the medians of the rate, the machine's
    CPU per firing (µs) and the WAL per firing (bytes): the last two say whether a change of rate was
    more work or a slower machine."""
    from bench import cpu

    rates, cpus, wals = [], [], []
    for _ in range(3):
        window = cpu.Window(wal=True)
        rates.append(minimal_rate(first_order, 2, n, clean=True, window=window))
        cpus.append(window.per(n))
        wals.append(window.wal_per(n))
    return ScaleState(statistics.median(rates), statistics.median(cpus), statistics.median(wals))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--only", default="1,2,3,4,5,6")
    parser.add_argument("--no-setup", action="store_true", help="reuse the loaded database")
    args = parser.parse_args()
    only = {int(x) for x in args.only.split(",")}
    scale = 0.02 if args.small else 1.0
    due_n = int(100_000 * scale)
    celery_n = int(20_000 * scale)
    future_small, future_big = int(SCALE_FUTURE_SMALL * scale), int(SCALE_FUTURE_BIG * scale)

    say(f"# bench: {BENCH_DB}, scale {scale}, {machine()}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    if not args.no_setup:
        setup_database()
    import django

    django.setup()
    from django.db import connection

    from bench import cpu, generate, reference, server, sweep
    from orders.models import Order

    with connection.cursor() as c:  # the server's configuration the figures are taken on (bench/server.py)
        say(f"# server: {server.shown(c)}")

    if not args.no_setup:
        generate.generate_base(scale=scale)
        # As autovacuum would have done on a production server (this machine's PostgreSQL runs with
        # autovacuum off): visibility map set, so index-only scans (queue counts, R-P11's sum) are that.
        started = time.perf_counter()
        with connection.cursor() as c:
            c.execute("VACUUM ANALYZE")
        say(f"  vacuumed and analysed in {time.perf_counter() - started:.1f} s")
    o0 = Order.objects.order_by("id").values_list("id", flat=True).first()
    due_slice = (o0, o0 + due_n)

    # --- bench 2: scale independence (10,000 future pending, then 1,000,000) ----------------------
    if not args.no_setup:
        generate.generate_future_deadlines(future_small)

    scale_n = int(SCALE_SWEEP * scale) or 400
    small = scale_state(o0, scale_n) if 2 in only else ScaleState(0.0, 0.0, 0.0)
    future_first = sweep.max_deadline_id() + 1
    if not args.no_setup:
        seconds = generate.generate_future_deadlines(future_big - future_small)
        say(f"bench load: {future_big:,} pending deadlines (COPY + ANALYZE) in {seconds:.1f} s")
    if 2 in only:
        big = scale_state(o0, scale_n)
        # Then the 10,000 state once more (A-B-A): the 990,000 deleted, measured, and loaded again for
        # the benches after. Sweeps minutes apart drift on a shared machine by more than the target's
        # margin: measured only before and after the load, the ratio read that drift (96-140 % with one
        # state on both sides on the twenty-second machine, and RUN70's MISSED at 86 %).
        again = None
        if not args.no_setup:
            generate.remove_deadlines(future_first, future_big - future_small)
            again = scale_state(o0, scale_n)
            seconds = generate.generate_future_deadlines(future_big - future_small)
            say(f"bench load: the {future_big - future_small:,} deleted and loaded again in {seconds:.1f} s")
        base = (small.rate + again.rate) / 2 if again else small.rate
        ratio = big.rate / base if base else 0
        if again:
            mean = f"of the two {future_small:,} rates' mean"
            against = f", {again.rate:,.0f}/s with {future_small:,} again: {near(ratio, 0.9, pct=True)} {mean}"
        else:
            against = f": {ratio:.0%} (--no-setup: the loaded state both times)"
        states = [small, big, again] if again else [small, big]
        per_firing = (
            f" | per firing, the machine's CPU {' / '.join(f'{st.cpu_us:,.0f}' for st in states)} µs and the WAL "
            f"{' / '.join(f'{st.wal_bytes:,.0f}' for st in states)} B"
        )
        say(
            f"bench 2 scale: sweep {scale_n:,} due (median of 3), 2 workers: {small.rate:,.0f}/s "
            f"with {future_small:,} future pending, {big.rate:,.0f}/s with {future_big:,}{against}{per_firing} "
            f"(target >= 90%) {'MET' if ratio >= 0.9 else 'MISSED'}"
        )

    # --- bench 1: sweep throughput ----------------------------------------------------------------
    # Every measured sweep, the engine's and the references' alike, starts on a vacuumed database, as
    # autovacuum leaves a production server between two bursts (this one runs without it): otherwise
    # each sweep's claims wade through the index entries of every row the earlier sweeps fired
    # (72 ms for a claim of 500 after bench 6, against 4.5 ms vacuumed).
    best_minimal = 0.0
    if 1 in only:
        # The machine's CPU over the 2-process runs (bench/cpu.py): what bounds each rate.
        # And the WAL they wrote (its bytes per firing: what a replica receives and an archive keeps).
        cpus = {
            name: cpu.Window(wal=True) for name in ("minimal", "R-T01", "R-T16", "reference", "SQL R-T01", "pgbench")
        }
        m1 = minimal_rate(o0, 1, due_n, clean=True)
        m2 = minimal_rate(o0, 2, due_n, clean=True, window=cpus["minimal"])
        best_minimal = max(m1, m2)
        pr = minimal_rate(o0, 2, due_n // 5, mode="per_row", clean=True)
        # pgbench twice, right before the R-T01 sweeps and at the end: its rate moves with the hour (the
        # WAL flush), and once collapsed to a third in one minute (RUN52), which made a false MET. The
        # verdict stands against the greater of the two: no dip of pgbench's can meet the target.
        pgbench_seconds = 30 if not args.small else 5
        tps_before = reference.run_pgbench(clients=2, seconds=pgbench_seconds) or 0.0
        rt = {}
        from penalties.models import Sanction

        sanctions_before = Sanction.objects.count()
        for w in (1, 2):
            sweep.reset_orders(due_slice)
            fired, seconds, _ = sweep.sweep(
                rule="R-T01",
                kind="r_t01_ship",
                orders=due_slice,
                workers=w,
                clean=True,
                window=cpus["R-T01"] if w == 2 else None,
            )
            rt[w] = fired / seconds
        sanctions = Sanction.objects.count() - sanctions_before
        # R-T16, the peak day's most frequent firing ten days on (every order its buyer did not confirm):
        # not a target of the issue, measured beside R-T01 since it fires set-based too.
        sweep.reset_orders(due_slice, "shipped")
        fired, seconds, _ = sweep.sweep(
            rule="R-T16", kind="r_t16_auto_confirm", orders=due_slice, workers=2, clean=True, window=cpus["R-T16"]
        )
        auto_confirm = fired / seconds
        sweep.reset_orders(due_slice)
        sweep.make_due(rule=reference.RULE, kind="x_ref", order_ids=due_slice)
        sweep.vacuum()
        ref = due_n / reference.run_sweeper(2, 500, window=cpus["reference"])
        # The same sweeper firing the full R-T01 action in SQL: what set-based statements reach with the
        # action's ten rows per firing here, the bound for the engine's R-T01 (bench 1 in PERFORMANCE.md).
        sweep.reset_orders(due_slice)
        sweep.make_due(rule=reference.RULE, kind="x_ref", order_ids=due_slice)
        sweep.vacuum()
        ref_full = due_n / reference.run_sweeper(2, 500, full=True, window=cpus["SQL R-T01"])
        sweep.reset_orders(due_slice)
        first = sweep.max_deadline_id() + 1
        sweep.make_due(rule=reference.RULE, kind="x_ref", order_ids=(o0, o0 + celery_n))
        sweep.vacuum()
        with connection.cursor() as c:
            c.execute("SELECT id FROM disputes_deadline WHERE id >= %s ORDER BY id", [first])
            ids = [r[0] for r in c.fetchall()]
        fired, span = reference.run_celery(ids)
        celery = fired / span if span else 0.0
        tps_after = reference.run_pgbench(clients=2, seconds=pgbench_seconds, window=cpus["pgbench"]) or 0.0
        tps = max(tps_before, tps_after)
        units = {**dict.fromkeys(cpus, due_n), "pgbench": tps_after * cpus["pgbench"].wall}
        cores = os.cpu_count() or 1
        machine_cpu = (
            ", ".join(f"{name} {w.per(units[name]):,.0f} µs (cores {w.share:.0%} busy)" for name, w in cpus.items())
            + f"; 5x pgbench on {cores} cores asks <= {cores * 1e6 / (5 * tps) if tps else 0:,.0f} µs per firing"
        )
        wal_written = ", ".join(f"{name} {w.wal_per(units[name]):,.0f} B" for name, w in cpus.items())
        best_rt = max(rt.values())
        checks = [
            ("minimal >= 25% of reference", best_minimal >= 0.25 * ref),
            ("minimal >= 10x celery", best_minimal >= 10 * celery),
            ("R-T01 >= 5x pgbench", best_rt >= 5 * tps),
        ]
        say(
            f"bench 1 sweep {due_n:,} due: engine minimal 1w {m1:,.0f}/s 2w {m2:,.0f}/s "
            f"(per-row path 2w {pr:,.0f}/s) | R-T01 full 1w {rt[1]:,.0f}/s 2w {rt[2]:,.0f}/s "
            f"({sanctions:,} R-P11 sanctions imposed on the way) | R-T16 auto-confirm 2w {auto_confirm:,.0f}/s | "
            f"reference sweeper 2p {ref:,.0f}/s, with the full R-T01 action in SQL 2p {ref_full:,.0f}/s "
            f"({near(ref_full / tps if tps else 0, 5, pct=False)}x pgbench) | "
            f"celery-per-task c2 {celery:,.0f}/s ({fired:,}) | "
            f"pgbench c2 {tps:,.0f} tps (the greater of {tps_before:,.0f} before R-T01 and {tps_after:,.0f} "
            f"at the end) | minimal/reference {near(best_minimal / ref, 0.25, pct=True)}, "
            f"minimal/celery {near(best_minimal / celery if celery else 0, 10, pct=False)}x, R-T01/pgbench "
            f"{near(best_rt / tps if tps else 0, 5, pct=False)}x, R-T01/reference {best_rt / ref:.0%} "
            f"(5x pgbench is {5 * tps / ref:.0%} of the reference here, {ISSUE_5X_PGBENCH_OF_REFERENCE:.1%} "
            "by the issue's own figures) | machine CPU per firing (per transaction for pgbench), 2 processes: "
            f"{machine_cpu} | WAL per firing (per transaction for pgbench; each sweep starts after a checkpoint): "
            f"{wal_written} | " + ", ".join(f"{name} {'MET' if ok else 'MISSED'}" for name, ok in checks)
        )

    # --- bench 3: lateness at 50 % of the maximum rate --------------------------------------------
    if 3 in only:
        if not best_minimal:
            best_minimal = minimal_rate(o0, 2, due_n // 2)
        interval = float(os.environ["DEADLINE_SWEEP_INTERVAL_SECONDS"])
        seconds = 10 if args.small else 40
        rate = best_minimal / 2
        span = (o0, o0 + min(int(rate * seconds) + 1, int(1_000_000 * scale)))
        # From a vacuumed database, as bench 1's sweeps and bench 2's start (autovacuum's work between
        # bursts on a production server; this one runs without it): after bench 1, a claim waded
        # through the dead versions and index entries of its sweeps (RUN19: p99 6.37 s at 8,970/s;
        # the same feed 5.50 s unvacuumed and 2.05 s vacuumed, measured alone). Within the 40 s nothing
        # is vacuumed: the fired rows' dead entries pile up as they would between two autovacuums.
        res = sweep.lateness(rate=rate, seconds=seconds, workers=2, interval=interval, orders=span, clean=True)
        ok = res["p99"] <= interval + 2
        say(
            f"bench 3 lateness: {res['made']:,} made due at {rate:,.0f}/s for {seconds} s, "
            f"sweep every {interval:.0f} s, 2 workers: fired {res['fired']:,}, "
            f"fired_at - due_at p50 {res['p50']:.2f} s p99 {res['p99']:.2f} s "
            f"max {res['max']:.2f} s (target p99 <= {interval + 2:.0f} s) {'MET' if ok else 'MISSED'}"
        )

    # --- bench 4: API ---------------------------------------------------------------------------------
    if 4 in only:
        from bench import api

        sweep.analyze()

        seconds = 6 if args.small else 18
        # Orders enough that no body repeats (one open refund per order): half for POST refunds/, half
        # for the filing by hand, a sixth of each per round: 4,000 a round, enough for 1,300 filings a
        # second (30,000 ran the filing by hand out of bodies at 830 a second on the fourteenth machine).
        prep = api.prepare(48_000 if not args.small else 12_000)
        # 4 sync workers, as README runs gunicorn (BENCH_API_WORKERS overrides). Until 2026-12-05 the bench
        # ran 2: on the fourth machine 4 measured no better (bare 939 rps, POST refunds/ 149, GET cases/
        # 346 against 891 / 160 / 359 with 2); on the thirteenth, whose WAL flush is slow, a filing's
        # commit left the cores idle with 2, and 4 gave POST refunds/ 43 % of bare against 38-40 %, GET
        # cases/ 57-58 % against 55-56 %, the bare view 385-389 rps against 369-379 (alternated; 5: the same).
        api_workers = int(os.environ.get("BENCH_API_WORKERS", 4))
        server = api.start_gunicorn(api_workers)
        bodies = [
            {"order": o, "kind": "refund_only", "reason": "ordered_by_mistake", "amount": "9.90"}
            for o in prep["orders"]
        ]
        # POST refunds/ files on the first half of the orders, the hand-written filing (the bound of a
        # filing's own writes, bench/urls.py) on the second.
        half = len(bodies) // 2
        bodies, bodies_by_hand = bodies[:half], bodies[half:]
        # Each filing by its order's buyer (bench/api.py BUYERS), under the production write throttle.
        callers, callers_by_hand = prep["order_tokens"][:half], prep["order_tokens"][half:]
        # The endpoints take turns (six rounds of 3 s each, the rounds pooled), so that a drift of the
        # machine's speed during the bench falls on all alike; with three rounds of 5 s the bare view
        # moved 520-743 rps between runs minutes apart (2026-12-02). Each round's ratio is printed too.
        rounds = 6
        part = seconds / rounds
        runs: dict[str, list] = {"bare": [], "cases": [], "post": [], "by_hand": []}
        try:
            for r in range(rounds):
                runs["bare"].append(api.load_raw("GET", ["/bench/bare/"], token=prep["agent_token"], seconds=part))
                runs["cases"].append(api.load_raw("GET", ["/api/v1/cases/"], token=prep["agent_token"], seconds=part))
                runs["post"].append(
                    api.load_raw(
                        "POST",
                        ["/api/v1/refunds/"],
                        bodies=bodies[r::rounds],
                        tokens=callers[r::rounds],
                        seconds=part,
                    )
                )
                runs["by_hand"].append(
                    api.load_raw(
                        "POST",
                        ["/bench/bare/write/"],
                        bodies=bodies_by_hand[r::rounds],
                        tokens=callers_by_hand[r::rounds],
                        seconds=part,
                    )
                )
        finally:
            server.terminate()
            server.wait(30)
        bare, cases, post, by_hand = (api.pooled(runs[name]) for name in ("bare", "cases", "post", "by_hand"))

        def fmt(name, key, r):
            per, busy = api.cpu_of(runs[key])
            return (
                f"{name} {r[0]:,.0f} rps p50 {r[1]:.1f} ms p95 {r[2]:.1f} ms{f' ({r[3]} errors)' if r[3] else ''} "
                f"[{per:,.0f} µs CPU per request, cores {busy:.0%} busy]"
            )

        def spread(name: str) -> str:
            """The rate's ratio to bare's in each round (the two measured seconds apart): lowest-highest."""
            rates = [(api.pooled([a])[0], api.pooled([b])[0]) for a, b in zip(runs[name], runs["bare"], strict=True)]
            per_round = [rate / bare_rate for rate, bare_rate in rates if bare_rate] or [0.0]
            return f"{min(per_round):.0%}-{max(per_round):.0%} by round"

        verdicts = []
        for name, key, r in (("POST refunds/", "post", post), ("GET cases/", "cases", cases)):
            ok = r[0] >= 0.5 * bare[0] and r[2] <= 3 * bare[2]
            verdicts.append(
                f"{name} {near(r[0] / bare[0], 0.5, pct=True)} of bare ({spread(key)}), "
                f"p95 {near(r[2] / bare[2], 3, pct=False)}x "
                f"{'MET' if ok else 'MISSED'}"
            )
        say(
            f"bench 4 api (gunicorn {api_workers} sync workers, python loader 2x3): {fmt('bare', 'bare', bare)} | "
            f"{fmt('POST refunds/', 'post', post)} | {fmt('GET cases/', 'cases', cases)} | "
            f"{fmt('a filing written by hand', 'by_hand', by_hand)} "
            f"({near(by_hand[0] / bare[0], 0.5, pct=True)} of bare: the bound) | " + "; ".join(verdicts)
        )

    # --- bench 5: queues at size ---------------------------------------------------------------------
    if 5 in only:
        from bench import queues

        sweep.analyze()
        from disputes.models import Case

        n_cases = Case.objects.count()
        client = queues.agent_client()
        queues.measure(client, queues.QUEUE_VIEWS, rounds=1)  # warm
        # Enough requests that the p95 is one (with 10 it was the slowest request: once the process's
        # first full garbage collection, 50-80 ms on its own), the slowest printed beside it.
        res = queues.measure(client, queues.QUEUE_VIEWS, rounds=5 if args.small else 20)
        ok = res["p95"] <= 100 and len(res["queries"]) == 1
        views = len(queues.QUEUE_VIEWS)
        say(
            f"bench 5 queues: GET cases/ ({views} views x {res['n'] // views} rounds, "
            f"{n_cases:,} cases): server time p50 {res['p50']:.1f} ms p95 {res['p95']:.1f} ms max {res['max']:.1f} ms, "
            f"queries per request {res['queries']} "
            f"status {res['status']} (target p95 <= 100 ms, constant) {'MET' if ok else 'MISSED'}"
        )
        path = queues.dashboard_path(client)
        if path is None:
            say(
                "bench 5 dashboard: SKIPPED, no queue page answers yet (" + ", ".join(queues.DASHBOARD_CANDIDATES) + ")"
            )
        else:
            res = queues.measure(client, [path], rounds=20 if args.small else 100, count_apart=True)
            ok = res["p95"] <= 100 and len(res["queries"]) == 1
            say(
                f"bench 5 dashboard {path} ({res['n']} requests): p50 {res['p50']:.1f} ms p95 {res['p95']:.1f} ms "
                f"max {res['max']:.1f} ms, queries {res['queries']} (+ the capped count in "
                f"{res['count_refills']} of them: its 5 s cache refilled) "
                f"{'MET' if ok else 'MISSED'}"
            )

    # --- bench 6: memory across a 1,000,000-deadline sweep -----------------------------------------
    if 6 in only:
        n = int(1_000_000 * scale)
        sweep.reset_orders((o0, o0 + n))
        fired, seconds, samples = sweep.sweep(
            rule="X-B01", kind="x_b01_bench_minimal", orders=(o0, o0 + n), workers=2, sample_rss=True
        )
        parts = []
        worst = 0.0
        for rss in samples.values():
            rss = [x for x in rss if x > 0]  # 0: the process was exiting
            steady = rss[len(rss) // 10 :] or rss  # after the first tenth: imports and first batches done
            if not steady:
                continue
            ref_rss = steady[0]
            dev = max(abs(x - ref_rss) for x in steady) / ref_rss
            worst = max(worst, dev)
            parts.append(
                f"{ref_rss / 1024:.0f}->{steady[-1] / 1024:.0f} MiB "
                f"(min {min(steady) / 1024:.0f}, max {max(steady) / 1024:.0f})"
            )
        say(
            f"bench 6 memory: {fired:,} fired in {seconds:.0f} s ({fired / seconds:,.0f}/s), 2 workers RSS "
            + "; ".join(parts)
            + f": max deviation {worst:.1%} (target <= 10%) {'MET' if worst <= 0.10 else 'MISSED'}"
        )
    say(f"# done, {machine()}")


if __name__ == "__main__":
    main()
