"""Profile bench 4's endpoints in process, on the loaded bench database (a tool for work on bench 4).

    .venv/bin/python -m bench.profile_api get 500          # GET cases/ 500 times: ms per request, SQL vs Python
    .venv/bin/python -m bench.profile_api post 500         # POST refunds/ on 500 fresh paid orders
    .venv/bin/python -m bench.profile_api bare 500 --cprofile   # the bare view, and the top functions
    .venv/bin/python -m bench.profile_api write 500        # a filing's rows written by hand (the bound)
    .venv/bin/python -m bench.profile_api queue 200        # the dashboard's queue page (bench 5), signed in
    PROFILE_FILTER='main/(core|disputes)' .venv/bin/python -m bench.profile_api post 500 --cprofile
                                                           # the cumulative list of those files' functions only

Requests go through django.test.Client with the token header bench 4 sends (the whole middleware
stack, authentication, view, rendering; no network, no gunicorn), each statement timed by an execute
wrapper, so the time splits into PostgreSQL (per statement) and Python.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/disputes_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

PATHS = {
    "get": "/api/v1/cases/",
    "bare": "/bench/bare/",
    "post": "/api/v1/refunds/",
    "write": "/bench/bare/write/",  # a filing's rows written by hand (bench/urls.py)
    "queue": "/queue/",
}
POSTS = ("post", "write")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=sorted(PATHS))
    parser.add_argument("n", type=int)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from bench import api, cpu, queues
    from bench.profile import StatementTimer

    prep = api.prepare(args.n + 20 if args.what in POSTS else 1)
    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"HTTP_AUTHORIZATION": f"Token {prep['agent_token']}"}
    if args.what == "queue":  # the dashboard signs in with a session, as bench 5 does
        client, headers = queues.agent_client(), {"HTTP_HOST": "127.0.0.1"}
    # Each filing by its order's buyer, as bench 4 sends them (bench/api.py BUYERS).
    bodies = iter(
        (
            json.dumps({"order": o, "kind": "refund_only", "reason": "ordered_by_mistake", "amount": "9.90"}),
            {"HTTP_AUTHORIZATION": f"Token {token}"},
        )
        for o, token in zip(prep["orders"], prep["order_tokens"], strict=True)
    )

    def request():
        if args.what in POSTS:
            body, caller = next(bodies)
            r = client.post(PATHS[args.what], body, content_type="application/json", **caller)
        else:
            r = client.get(PATHS[args.what], **headers)
        assert r.status_code in (200, 201), (r.status_code, r.content[:300])

    for _ in range(20):  # warm: imports, caches, prepared plans
        request()

    timer = StatementTimer()
    sql, by_statement = timer.totals, timer.by_statement
    prof = cProfile.Profile() if args.cprofile else None
    times = []
    server = cpu.Backend(connection).start()  # the PostgreSQL backend's CPU: the server's share
    own = time.process_time()  # this process's own CPU (Python, and the client's share): readable on a busy machine
    with connection.execute_wrapper(timer):
        if prof:
            prof.enable()
        for _ in range(args.n):
            t = time.perf_counter()
            request()
            times.append(time.perf_counter() - t)
        if prof:
            prof.disable()
    own = time.process_time() - own
    server.stop()
    total = sum(times)
    times.sort()
    n = args.n
    print(
        f"{args.what} {PATHS[args.what]}: {n} requests, mean {total / n * 1000:.2f} ms, "
        f"p50 {times[n // 2] * 1000:.2f} ms, p95 {times[int(n * 0.95)] * 1000:.2f} ms; "
        f"{sql['n'] / n:.1f} statements per request, SQL {sql['s'] / n * 1000:.2f} ms, "
        f"Python {(total - sql['s']) / n * 1000:.2f} ms; this process's CPU {own / n * 1000:.2f} ms "
        f"({sql['cpu'] / n * 1000:.2f} ms of it inside the statements' calls), "
        f"its PostgreSQL backend's CPU {server.cpu / n * 1000:.2f} ms "
        f"({server.system / n * 1000:.2f} ms of it in the kernel)"
    )
    for key, (count, spent) in sorted(by_statement.items(), key=lambda kv: -kv[1][1])[:15]:
        print(f"  {spent / n * 1000:6.3f} ms {count / n:4.1f}x  {key}")
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        pstats.Stats(prof).sort_stats("cumtime").print_stats(os.environ.get("PROFILE_FILTER", ""), 45)


if __name__ == "__main__":
    main()
