"""The deadline engine: exactly once under concurrency, failures retried, pause and resume (R-T19)."""

import datetime as dt
import threading
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from core.models import Event, Notification
from disputes import engine
from disputes.models import Deadline
from orders import services
from orders.models import Order
from penalties.models import LedgerMovement, Penalty
from tests.factories import OrderFactory, ShopFactory, UserFactory

CHINA = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 11, 9, 0, tzinfo=CHINA)


def _due_ship_deadlines(n: int, *, due_at: dt.datetime) -> list[int]:
    """`n` paid orders whose R-T01 clock ran out at `due_at` (bulk-made: the engine is under test)."""
    shop = ShopFactory()
    buyer = UserFactory(roles=["buyer"])
    paid_at = due_at - dt.timedelta(hours=72)
    orders = Order.objects.bulk_create(
        [
            Order(shop=shop, buyer=buyer, status="paid", total_amount=Decimal("50.00"), paid_at=paid_at, ship_by=due_at)
            for _ in range(n)
        ]
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
        ]
    )
    return [d.pk for d in deadlines]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_fire_each_of_1000_deadlines_exactly_once():
    assert connection.vendor == "postgresql", "concurrency is only meaningful on PostgreSQL"
    ids = _due_ship_deadlines(1000, due_at=timezone.now() - dt.timedelta(minutes=5))
    barrier = threading.Barrier(2)
    fired: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            fired.append(engine.enforce_deadlines(batch_size=50))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sum(fired) == 1000
    assert Deadline.objects.filter(id__in=ids, status="fired").count() == 1000
    assert Deadline.objects.filter(id__in=ids).exclude(attempts=0).count() == 0
    # Each effect exists once per deadline.
    assert Penalty.objects.filter(deadline_id__in=ids).count() == 1000
    assert LedgerMovement.objects.filter(penalty__deadline_id__in=ids).count() == 1000
    per_order = (
        Event.objects.filter(action="order.late_shipment").values("subject_id").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not per_order.exists()
    assert Event.objects.filter(action="order.late_shipment").count() == 1000
    assert Notification.objects.filter(kind="order.late_shipment").count() == 2000  # buyer and shop owner


@pytest.mark.django_db
def test_a_failing_action_records_its_error_and_is_retried_later_without_blocking_the_rest():
    ids = _due_ship_deadlines(5, due_at=T0)
    broken = Deadline.objects.get(pk=ids[2])
    order = Order.objects.get(pk=broken.subject_id)
    # A penalty already bound to this deadline makes the action's insert violate a real constraint.
    blocker = Penalty.objects.create(
        shop=order.shop, code="r_p06", points=0, source_kind="order", source_id=order.pk, deadline=broken
    )

    with time_machine.travel(T0 + dt.timedelta(seconds=1), tick=False):
        assert engine.enforce_deadlines() == 4
    broken.refresh_from_db()
    assert broken.status == "pending"
    assert broken.attempts == 1
    assert "penalty" in broken.last_error.lower() or "unique" in broken.last_error.lower()
    assert broken.not_before > T0 + dt.timedelta(seconds=1)
    assert Deadline.objects.filter(id__in=ids, status="fired").count() == 4

    # Still backing off: the next sweep leaves it alone.
    with time_machine.travel(T0 + dt.timedelta(seconds=2), tick=False):
        assert engine.enforce_deadlines() == 0

    blocker.delete()  # the operator fixes the cause
    with time_machine.travel(broken.not_before + dt.timedelta(seconds=1), tick=False):
        assert engine.enforce_deadlines() == 1
    broken.refresh_from_db()
    assert broken.status == "fired" and broken.attempts == 1
    assert Penalty.objects.filter(deadline=broken, code="r_p01").count() == 1


@pytest.mark.django_db
def test_enforce_deadlines_command_fires_then_fires_nothing():
    _due_ship_deadlines(3, due_at=timezone.now() - dt.timedelta(seconds=1))
    out = StringIO()
    call_command("enforce_deadlines", stdout=out)
    assert "fired 3" in out.getvalue()
    out = StringIO()
    call_command("enforce_deadlines", stdout=out)
    assert "fired 0" in out.getvalue()


@pytest.mark.django_db
def test_a_deadline_due_in_the_future_is_not_fired():
    _due_ship_deadlines(2, due_at=T0)
    with time_machine.travel(T0 - dt.timedelta(seconds=1), tick=False):
        assert engine.enforce_deadlines() == 0
    with time_machine.travel(T0, tick=False):  # "at or before now"
        assert engine.enforce_deadlines() == 2


@pytest.mark.django_db
def test_pause_keeps_the_remaining_time_to_the_second_and_resume_restores_it():
    with time_machine.travel(T0, tick=False):
        order = services.order_pay(order=OrderFactory(), actor=None)
    deadline = Deadline.objects.get(subject_id=order.pk, kind="r_t01_ship")
    paused_at = T0 + dt.timedelta(hours=10, seconds=17)
    with time_machine.travel(paused_at, tick=False):
        assert engine.deadlines_pause(subjects=[order], at=paused_at) == 1
    deadline.refresh_from_db()
    assert deadline.remaining == dt.timedelta(hours=61, minutes=59, seconds=43)

    # A paused clock never fires, however long the pause.
    with time_machine.travel(T0 + dt.timedelta(days=20), tick=False):
        assert engine.enforce_deadlines() == 0
        resumed_at = timezone.now()
        assert engine.deadlines_resume(subjects=[order], at=resumed_at) == 1
    deadline.refresh_from_db()
    assert deadline.due_at == resumed_at + dt.timedelta(hours=61, minutes=59, seconds=43)
    with time_machine.travel(deadline.due_at - dt.timedelta(seconds=1), tick=False):
        assert engine.enforce_deadlines() == 0
    with time_machine.travel(deadline.due_at + dt.timedelta(seconds=1), tick=False):
        assert engine.enforce_deadlines() == 1


@pytest.mark.django_db
def test_a_deadline_whose_subject_moved_on_is_cancelled_never_fired():
    with time_machine.travel(T0, tick=False):
        order = services.order_pay(order=OrderFactory(), actor=None)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        services.order_ship(order=order, actor=None, carrier="中通", tracking_number="1", picked_up_at=T0)
    with time_machine.travel(T0 + dt.timedelta(hours=80), tick=False):
        engine.enforce_deadlines()
    ship = Deadline.objects.get(subject_id=order.pk, kind="r_t01_ship")
    assert ship.status == "cancelled" and ship.fired_at is None


@pytest.mark.django_db
def test_a_claim_reads_its_batch_and_stops_however_many_rows_share_one_due_time():
    """#9: a presale's orders share one ship-by date, so their R-T01 clocks fall due at the same
    microsecond. The claim takes them oldest first, ties by id, straight from the due index: it reads
    as many rows as it takes, never sorts them all (it once sorted 100,000 rows to take 500)."""
    import json

    from django.db import transaction

    assert connection.vendor == "postgresql", "the plan is PostgreSQL's"
    due_at = timezone.now() - dt.timedelta(minutes=1)
    Deadline.objects.bulk_create(
        Deadline(
            subject_kind="order",
            subject_id=i,
            rule="R-T01",
            kind="r_t01_ship",
            started_at=due_at - dt.timedelta(hours=72),
            due_at=due_at,
            duration_amount=72,
            duration_unit="hours",
        )
        for i in range(1, 5001)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Deadline._meta.db_table}")
    with transaction.atomic():
        sql, params = engine.claimable(timezone.now()).values("id")[:200].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)

    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    every = list(nodes(plan[0]["Plan"]))
    assert not [n["Node Type"] for n in every if "Sort" in n["Node Type"]]
    scans = [n for n in every if n.get("Index Name") == "deadline_due_pending_idx"]
    assert scans and scans[0]["Actual Rows"] <= 200
