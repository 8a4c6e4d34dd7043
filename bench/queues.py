"""Bench 5: the agents' queues at size. Server time of GET /api/v1/cases/ (the queue's views) and of
the dashboard queue page, in process (django.test.Client: middleware, view, serializer, SQL; no
network), with the query count of each request. The dashboard page is measured once a URL for it
answers (/queue/, /dashboard/queue/, /dashboard/); until then its line says it is skipped.
"""

from __future__ import annotations

import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

QUEUE_VIEWS = [
    "/api/v1/cases/",
    "/api/v1/cases/?status=open",
    "/api/v1/cases/?overdue=true",
    "/api/v1/cases/?assignee=none",
    "/api/v1/cases/?page=2",
    "/api/v1/cases/?page=50&page_size=50",
]
DASHBOARD_CANDIDATES = ["/queue/", "/dashboard/queue/", "/dashboard/"]


def measure(client: Client, paths: list[str], *, rounds: int, count_apart: bool = False) -> dict:
    times: list[float] = []
    queries: set[int] = set()
    status: set[int] = set()
    refills = 0
    for _ in range(rounds):
        for path in paths:
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                resp = client.get(path, HTTP_HOST="127.0.0.1")
                times.append(time.perf_counter() - t0)
            status.add(resp.status_code)
            # `count_apart`: the dashboard's capped count is its own statement once per filter every 5 s
            # (its cache, docs/DECISIONS.md), counted apart so that "constant" is judged per cache state.
            counts = 0
            if count_apart:
                counts = sum(1 for q in ctx.captured_queries if q["sql"].startswith("SELECT COUNT(*)"))
            refills += counts
            queries.add(len(ctx.captured_queries) - counts)
    times.sort()
    return {
        "p50": times[len(times) // 2] * 1000,
        "p95": times[int(len(times) * 0.95)] * 1000,
        "max": times[-1] * 1000,
        "queries": sorted(queries),
        "status": sorted(status),
        "n": len(times),
        "count_refills": refills,
    }


def agent_client() -> Client:
    from django.contrib.auth.models import Group, User

    agent, _ = User.objects.get_or_create(username="bench_queue_agent", defaults={"is_staff": True})
    agent.groups.add(Group.objects.get(name="agent"))
    client = Client()
    client.force_login(agent)
    return client


def dashboard_path(client: Client) -> str | None:
    for path in DASHBOARD_CANDIDATES:
        resp = client.get(path, HTTP_HOST="127.0.0.1")
        if resp.status_code == 200 and "text/html" in resp.get("Content-Type", ""):
            return path
    return None
