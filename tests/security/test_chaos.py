"""Chaos (issue #8): nothing is lost, nothing happens twice.

1. PostgreSQL: four sweeper *processes* over CHAOS_DEADLINES (default 20,000) due R-T01 deadlines;
   one is killed with SIGKILL in the middle of a batch, another's database connection is terminated
   (pg_terminate_backend). Afterwards every deadline fired exactly once and each effect — penalty,
   ledger movement, audit event, the two notifications — exists once.
2. Redis: a private redis-server is stopped for CHAOS_REDIS_OUTAGE_SECONDS (default 5 s, standing in
   for "a minute": nothing in the code counts the minutes, see docs/SECURITY.md); API writes succeed
   meanwhile, deadlines falling due are not lost, and sweeping resumes when it is back.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from core.models import Event, Notification
from disputes import engine
from disputes.models import Deadline
from orders.models import Order
from penalties.models import LedgerMovement, Penalty
from tests.factories import ShopFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
N_DEADLINES = int(os.environ.get("CHAOS_DEADLINES", "20000"))
OUTAGE_SECONDS = float(os.environ.get("CHAOS_REDIS_OUTAGE_SECONDS", "5"))


def _due_ship_deadlines(n: int, *, due_at: dt.datetime, shops: int = 40) -> list[int]:
    """`n` paid orders over `shops` shops whose R-T01 clock ran out at `due_at` (bulk-made)."""
    sellers = [ShopFactory() for _ in range(shops)]
    buyer = UserFactory(roles=["buyer"])
    paid_at = due_at - dt.timedelta(hours=72)
    orders = Order.objects.bulk_create(
        [
            Order(
                shop=sellers[i % shops],
                buyer=buyer,
                status="paid",
                total_amount=Decimal("50.00"),
                paid_at=paid_at,
                ship_by=due_at,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    deadlines = Deadline.objects.bulk_create(
        [
            Deadline(
                subject_kind="order",
                subject_id=o.pk,
                rule="R-T01",
                kind="r_t01_ship",
                started_at=paid_at,
                due_at=due_at,
                duration_amount=72,
                duration_unit="hours",
            )
            for o in orders
        ],
        batch_size=2000,
    )
    return [d.pk for d in deadlines]


def _worker_env() -> dict[str, str]:
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "TEST_DB_NAME": "",
        "REDIS_URL": "",  # the sweep needs no broker; Redis has its own test below
        "DEADLINE_SWEEP_INTERVAL_SECONDS": "2",  # lease = 4 s: a killed worker's rows come back soon
        "DEADLINE_RETRY_BACKOFF_SECONDS": "1",  # rows failed by the cut connection retry soon
        "PYTHONUNBUFFERED": "1",
    }


def _backend_of(name: str) -> tuple[int, str] | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid, state FROM pg_stat_activity WHERE application_name = %s", [name])
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def _wait_in_transaction(name: str, timeout: float = 20) -> int:
    """The backend pid of worker `name` once it is inside a transaction (mid-batch)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = _backend_of(name)
        if found and found[1] in ("active", "idle in transaction"):
            return found[0]
        time.sleep(0.01)
    raise AssertionError(f"{name} never got busy")


def _wait_backends_gone(timeout: float = 15) -> None:
    """The killed worker's session ends when the server notices; the test database is dropped later."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'chaos-%%'")
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_four_sweepers_one_killed_one_cut_off_fire_every_deadline_exactly_once(tmp_path):
    assert connection.vendor == "postgresql", "chaos on PostgreSQL"
    ids = _due_ship_deadlines(N_DEADLINES, due_at=timezone.now() - dt.timedelta(minutes=5))
    connection.close()  # the workers must see committed rows; the parent keeps no lock

    logs = [open(tmp_path / f"worker{n}.log", "w") for n in range(4)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.security.chaos_worker", str(n)],
            cwd=ROOT,
            env=_worker_env(),
            stdout=logs[n],
            stderr=subprocess.STDOUT,
        )
        for n in range(4)
    ]
    try:
        # Worker 0: SIGKILL while it holds a batch (its transaction is open, its rows leased).
        _wait_in_transaction("chaos-0")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        # Worker 1: its connection is terminated by the server mid-batch; it must carry on.
        pid = _wait_in_transaction("chaos-1")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone()[0] is True
        for worker in workers[1:]:
            assert worker.wait(timeout=float(os.environ.get("CHAOS_TIMEOUT", "300"))) == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        for log in logs:
            log.close()
        _wait_backends_gone()
    outputs = [(tmp_path / f"worker{n}.log").read_text() for n in range(4)]
    assert workers[0].returncode == -signal.SIGKILL
    # Worker 1 lost its connection mid-batch and carried on (the engine's batch fallback, or its loop).
    assert "database error" in outputs[1] or "server closed the connection" in outputs[1], outputs[1][-2000:]
    assert all("done" in out for out in outputs[1:]), [out[-500:] for out in outputs]

    # Every deadline fired exactly once.
    assert Deadline.objects.filter(id__in=ids, status="fired").count() == N_DEADLINES
    assert Deadline.objects.filter(rule="R-T01", status="pending").count() == 0
    # Each effect once: the penalty (a unique constraint per deadline), its ledger movement, the
    # order's audit event, the buyer's and the seller's notification.
    assert Penalty.objects.filter(deadline_id__in=ids).count() == N_DEADLINES
    movements = LedgerMovement.objects.filter(penalty__deadline_id__in=ids)
    assert movements.count() == N_DEADLINES
    assert not movements.values("penalty_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    events = Event.objects.filter(action="order.late_shipment")
    assert events.count() == N_DEADLINES
    assert not events.values("subject_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    notes = Notification.objects.filter(kind="order.late_shipment")
    assert notes.count() == 2 * N_DEADLINES
    assert not notes.values("user_id", "subject_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    # The killed worker's leased rows came back and were fired by the others.
    assert engine.enforce_deadlines() == 0


# --- Redis --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_redis(port: int, workdir: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("private redis-server did not start")


@pytest.fixture
def private_redis(tmp_path, settings):
    """A redis-server of this test's own on a free port (the shared one on 6379 is left alone), used
    as the cache exactly as production configures it (core.cache.FailOpenRedisCache)."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    port = _free_port()
    state = {"process": _start_redis(port, tmp_path)}
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.FailOpenRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"RETRY_SECONDS": 0.5},
        }
    }
    settings.THROTTLE_RATES = {"write": "1000/min", "auth": "1000/min"}

    def stop():
        state["process"].terminate()
        state["process"].wait(timeout=10)

    def start():
        state["process"] = _start_redis(port, tmp_path)

    yield start, stop, port
    if state["process"].poll() is None:
        state["process"].terminate()
        state["process"].wait(timeout=10)


@pytest.mark.slow
@pytest.mark.django_db
def test_redis_down_api_writes_succeed_no_deadline_is_lost_and_sweeping_resumes(private_redis, cast, api):
    import time_machine

    start, stop, _port = private_redis
    cache = caches["default"]
    client = api(cast.agent)
    assert (
        client.post("/api/v1/shops/", {"name": "前", "kind": "marketplace", "owner": cast.seller.pk}).status_code == 201
    )
    assert cache.get(f"throttle_write_user:{cast.agent.pk}") is not None  # the throttle counts in Redis

    ids = _due_ship_deadlines(30, due_at=timezone.now() + dt.timedelta(seconds=OUTAGE_SECONDS / 2), shops=3)
    stop()
    outage_end = time.monotonic() + OUTAGE_SECONDS
    writes = 0
    while time.monotonic() < outage_end:
        response = client.post("/api/v1/shops/", {"name": f"停{writes}", "kind": "mall", "owner": cast.seller.pk})
        assert response.status_code == 201, response.content
        writes += 1
        time.sleep(0.2)
    assert cache.failures > 0, "the cache noticed Redis was gone"
    assert writes >= 3
    # Sign-in and its lockout keep working on process memory.
    token = client.post("/api/v1/auth/token/", {"username": "buyer", "password": "pw"}, format="json")
    assert token.status_code == 200
    # The deadlines fell due during the outage; they are rows, untouched.
    assert Deadline.objects.filter(id__in=ids, status="pending").count() == 30

    start()
    time.sleep(0.6)  # RETRY_SECONDS: the cache goes back to Redis
    assert client.post("/api/v1/shops/", {"name": "后", "kind": "mall", "owner": cast.seller.pk}).status_code == 201
    assert not cache.redis_down
    # The beat's next sweep (disputes.tasks.enforce_deadlines, called as the worker would) fires them.
    from disputes.tasks import enforce_deadlines

    with time_machine.travel(timezone.now(), tick=True):
        assert enforce_deadlines() == 30
    assert Deadline.objects.filter(id__in=ids, status="fired").count() == 30
    assert Penalty.objects.filter(deadline_id__in=ids).count() == 30
