"""Bench 4: requests per second and latency of POST refunds/ and GET cases/ under gunicorn, next to
a bare DRF APIView served by the same gunicorn (bench/urls.py), with a small Python load generator
on loopback (several processes of threads, one HTTP/1.1 connection each, a new one when gunicorn's
sync worker closes it). The loader shares the 2 cores with the server: the ratios are the figure.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time

from bench import cpu

PORT = int(os.environ.get("BENCH_API_PORT", "8765"))


def _load(args):
    method, paths, body_for, token, token_for, seconds, threads = args
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def run(slot: int):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        k = slot
        local: list[float] = []
        while time.perf_counter() < stop:
            if body_for and k >= len(body_for):  # every body sent once: a repeat would measure another path
                with lock:
                    errors[0] += 1
                break
            path = paths[k % len(paths)]
            body = json.dumps(body_for[k]) if body_for else None
            caller = token_for[k % len(token_for)] if token_for else token
            k += threads
            headers = {"Authorization": f"Token {caller}", "Content-Type": "application/json"}
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    with lock:
                        errors[0] += 1
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                with lock:
                    errors[0] += 1
                continue
            local.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(local)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    window = cpu.Window().start()  # the whole machine's CPU over this loader's window (bench/cpu.py)
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    window.stop()
    return latencies, errors[0], window.busy, window.total


def load_raw(
    method: str,
    paths,
    *,
    token: str | None = None,
    bodies=None,
    tokens=None,
    seconds: float = 15,
    procs: int = 2,
    threads: int = 3,
):
    """Drive the server for `seconds`: (latencies in seconds, errors, seconds, the machine's busy and
    total CPU seconds over the window). Bodies are split between processes and each is sent once (a
    thread out of bodies stops, counted as an error); `tokens`, when given, names the caller of each
    body (a buyer files on their own order), else every request is `token`'s. The CPU is the first
    loader process's reading of the whole machine (the processes run side by side), so the pool's
    start-up is not in it."""
    chunks = []
    for p in range(procs):
        chunk = bodies[p::procs] if bodies else None
        callers = tokens[p::procs] if tokens else None
        chunks.append((method, paths, chunk, token, callers, seconds, threads))
    with mp.get_context("spawn").Pool(procs) as pool:
        results = pool.map(_load, chunks)
    return [x for r in results for x in r[0]], sum(r[1] for r in results), seconds, results[0][2], results[0][3]


def pooled(runs) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p95 ms, errors) over one or more `load_raw` runs taken together."""
    lat = sorted(x for r in runs for x in r[0])
    errors = sum(r[1] for r in runs)
    seconds = sum(r[2] for r in runs)
    if not lat:
        return 0.0, 0.0, 0.0, errors
    return len(lat) / seconds, lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.95)] * 1000, errors


def cpu_of(runs) -> tuple[float, float]:
    """(µs of the whole machine's busy CPU per answered request, share of the cores busy) over `load_raw`
    runs taken together: server, PostgreSQL and the loader alike. With the cores busy throughout, two
    endpoints' rates stand in the inverse ratio of these µs, whatever in them is the server's."""
    requests = sum(len(r[0]) for r in runs)
    busy, total = sum(r[3] for r in runs), sum(r[4] for r in runs)
    return (busy / requests * 1e6 if requests else 0.0), (busy / total if total else 0.0)


def start_gunicorn(workers: int = 4) -> subprocess.Popen:
    """gunicorn as README runs it: 4 sync workers (the default class, right for a CPU-bound Django app
    behind a buffering proxy). A sync worker answers `Connection: close` and ignores `--keep-alive`, so every
    request of every endpoint, the bare one included, pays one TCP connect: the comparison stays even.
    A threaded worker with keep-alive would take that cost off all three alike."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.wsgi:application",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
            "--keep-alive",
            "5",
        ],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"},
    )
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            c.request("GET", "/healthz/")
            c.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("gunicorn did not start")


# Bench 4's buyers: on the peak day each buyer files a refund or two, so the orders are spread over
# many buyers and each POST is its order's buyer's. With one buyer the per-user write throttle
# (core/throttling.py, DRF's sliding log) kept a history of every request of the last minute — 10,000
# and more timestamps unpickled, shifted and pickled again on every POST — and had to be raised to
# let one user file hundreds a second: a cost no real caller has (2026-12-04). Each of these buyers
# sends a few filings a minute, under the production rate, which bench 4 now keeps.
BUYERS = 1000


def _buyers(n: int) -> list:
    """`n` bench buyers (in the buyer group, each with a token), created once and reused."""
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    names = [f"bench_api_buyer_{i}" for i in range(n)]
    have = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    User.objects.bulk_create([User(username=name) for name in names if name not in have], batch_size=5000)
    buyers = list(User.objects.filter(username__in=names))
    group = Group.objects.get(name="buyer")
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=u.pk, group_id=group.pk) for u in buyers], ignore_conflicts=True
    )
    Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in buyers], ignore_conflicts=True)
    tokens = dict(Token.objects.filter(user__in=buyers).values_list("user__username", "key"))
    by_name = {u.username: u for u in buyers}
    return [(by_name[name], tokens[name]) for name in names]


def prepare(n_orders: int, buyers: int = BUYERS) -> dict:
    """`buyers` buyers with tokens and `n_orders` paid, unshipped orders taking turns between them (one
    refund each; `order_tokens[i]` is the token of `orders[i]`'s buyer), and an agent's token."""
    import datetime as dt
    from decimal import Decimal

    from django.contrib.auth.models import Group, User
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from orders.models import Order, OrderItem, Shop

    people = _buyers(buyers)
    agent, _ = User.objects.get_or_create(username="bench_api_agent")
    agent.groups.add(Group.objects.get(name="agent"))
    owner, _ = User.objects.get_or_create(username="bench_api_seller")
    owner.groups.add(Group.objects.get(name="seller"))
    shop = Shop.objects.filter(owner=owner).first() or Shop.objects.create(name="bench api shop", owner=owner)
    paid_at = timezone.now() - dt.timedelta(hours=1)
    orders = Order.objects.bulk_create(
        [
            Order(
                shop=shop,
                buyer=people[i % len(people)][0],
                status="paid",
                total_amount=Decimal("99.00"),
                paid_at=paid_at,
                created_at=paid_at,
                ship_by=paid_at + dt.timedelta(hours=72),
            )
            for i in range(n_orders)
        ],
        batch_size=5000,
    )
    OrderItem.objects.bulk_create(
        [OrderItem(order=o, title="bench", sku="SKU-1", quantity=1, unit_price=Decimal("99.00")) for o in orders],
        batch_size=5000,
    )
    return {
        "buyer_token": people[0][1],
        "agent_token": Token.objects.get_or_create(user=agent)[0].key,
        "orders": [o.pk for o in orders],
        "order_tokens": [people[i % len(people)][1] for i in range(n_orders)],
    }
