"""Every list endpoint's first page, and every dashboard page, as a buyer, a seller, an agent and an
arbitrator, on the loaded bench database (a tool for the lists a peak day grows; docs/PERFORMANCE.md,
"The other lists at size").

    .venv/bin/python -m bench.lists                     # all the lists, 5 requests each after a warm-up
    .venv/bin/python -m bench.lists orders/ refunds/ -n 10
    .venv/bin/python -m bench.lists --pages             # the dashboard's pages instead
    .venv/bin/python -m bench.lists /seller/ /shops/{shop}/record/

A path without a leading slash is under /api/v1/; one with it is a dashboard page, `{shop}` and `{case}`
standing for the seller's shop and the newest case. The buyer and the seller are those of the newest
order, the agent and the arbitrator the first of their groups (the generator makes no arbitrator:
where there is none, that caller is left out). Requests go through the test client, in process (the
API authenticated as the caller, a page with the caller's session), each inside a transaction rolled
back. A line per path and caller who may see it (a 403, a 404 or a redirect is skipped): the status,
the whole request's time (fastest–slowest), its statements, and the tables of more than BIG rows
that a statement's plan (`EXPLAIN`, not run) reads whole.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Iterable

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/disputes_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

LISTS = (
    "orders/",
    "refunds/",
    "complaints/",
    "cases/",
    "penalties/",
    "ledger/",
    "registrations/",
    "logistics-claims/",
    "agents/performance/",
    "notifications/",
)
PAGES = (
    "/me/",
    "/queue/",
    "/cases/{case}/",
    "/arbitration/",
    "/seller/",
    "/seller/record/",
    "/shops/{shop}/record/",
    "/overview/",
    "/registrations/",
    "/logistics-claims/",
    "/performance/",
    "/replies/",
)
BIG = 50_000  # rows (pg_class.reltuples): a table a peak day makes large
_SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")


def whole_scans(plan: Iterable[str], sizes: dict[str, float]) -> set[str]:
    """The tables of `sizes` that the plan's lines read whole (a sequential scan)."""
    return {m.group(1) for line in plan if (m := _SEQ_SCAN.search(line)) and m.group(1) in sizes}


def table_sizes(cursor, *, at_least: int = BIG) -> dict[str, float]:
    cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r' AND reltuples >= %s", [at_least])
    return dict(cursor.fetchall())


def measure(user, path: str, *, n: int, sizes: dict[str, float]) -> dict:
    """`GET /api/v1/<path>` (or the dashboard page `path`, with a leading slash) as `user`: once to
    warm up, then `n` times timed; the last request's statements explained. Nothing it writes (a
    session, a throttle row) outlives it."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    page = path.startswith("/")
    url = path if page else f"/api/v1/{path}"
    times = []
    with transaction.atomic():
        if page:
            client.force_login(user)
        else:
            client.force_authenticate(user)
        client.get(url)
        for _ in range(n):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
        scans: set[str] = set()
        with connection.cursor() as cursor:
            for query in captured.captured_queries:
                sql = query["sql"]
                if sql.lstrip().upper().startswith("SELECT"):
                    cursor.execute("EXPLAIN " + sql.replace("%", "%%"))
                    scans |= whole_scans((row[0] for row in cursor.fetchall()), sizes)
        transaction.set_rollback(True)
    return {
        "status": response.status_code,
        "ms": (min(times), max(times)),
        "statements": len(captured.captured_queries),
        "scans": sorted(scans),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lists", nargs="*")
    parser.add_argument("--pages", action="store_true", help="the dashboard's pages instead of the API's lists")
    parser.add_argument("-n", type=int, default=5)
    args = parser.parse_args()
    paths = args.lists or list(PAGES if args.pages else LISTS)

    import logging

    import django

    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # a caller's 403 is skipped, not logged
    from django.contrib.auth import get_user_model
    from django.db import connection

    from disputes.models import Case
    from orders.models import Order

    order = Order.objects.select_related("shop__owner", "buyer").order_by("-id").first()
    if order is None:
        raise SystemExit("no orders: load the bench database first (make bench)")
    agent = get_user_model().objects.filter(groups__name="agent").order_by("id").first()
    arbitrator = get_user_model().objects.filter(groups__name="arbitrator").order_by("id").first()
    case = Case.objects.order_by("-id").values_list("id", flat=True).first()
    with connection.cursor() as cursor:
        sizes = table_sizes(cursor)
    callers = (("buyer", order.buyer), ("seller", order.shop.owner), ("agent", agent), ("arbitrator", arbitrator))
    for role, user in callers:
        if user is None:
            continue
        for path in paths:
            path = path.format(shop=order.shop_id, case=case)
            got = measure(user, path, n=args.n, sizes=sizes)
            if got["status"] in (302, 403, 404):
                continue
            scans = ", ".join(f"{t} ({sizes[t]:,.0f} rows)" for t in got["scans"]) or "-"
            low, high = got["ms"]
            print(
                f"{role:10} {path:22} {got['status']} {low:7.1f}-{high:.1f} ms {got['statements']} statements;"
                f" read whole: {scans}"
            )


if __name__ == "__main__":
    main()
