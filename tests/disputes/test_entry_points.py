"""The sweep's entry points: the Celery beat task and the in-process sweeper of the quick start."""

import datetime as dt
import threading

import pytest
from django.conf import settings
from django.utils import timezone

from core.management.commands.serve import sweep_forever
from disputes import tasks
from disputes.models import Deadline
from orders import services as orders
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _due_order():
    order = orders.order_pay(
        order=OrderFactory(created_at=timezone.now() - dt.timedelta(days=4)),
        actor=None,
        paid_at=timezone.now() - dt.timedelta(hours=73),
    )
    return Deadline.objects.get(subject_kind="order", subject_id=order.pk, kind="r_t01_ship")


def test_the_beat_runs_the_sweep_task_every_interval_and_never_queues_far_ahead():
    entry = settings.CELERY_BEAT_SCHEDULE["enforce-deadlines"]
    assert entry["task"] == "disputes.tasks.enforce_deadlines"
    assert entry["schedule"] == settings.DEADLINE_SWEEP_INTERVAL_SECONDS
    assert entry["options"]["expires"] <= settings.DEADLINE_SWEEP_INTERVAL_SECONDS
    deadline = _due_order()
    assert tasks.enforce_deadlines.apply().get() == 1  # the task body, run here as a worker would
    deadline.refresh_from_db()
    assert deadline.status == "fired"


class _OneTick(threading.Event):
    """Lets the sweeper loop run exactly once."""

    def wait(self, timeout=None):
        self.set()
        return True


@pytest.mark.django_db(transaction=True)
def test_the_in_process_sweeper_fires_due_deadlines():
    deadline = _due_order()
    sweep_forever(0.01, _OneTick())
    deadline.refresh_from_db()
    assert deadline.status == "fired"


def test_a_budgeted_sweep_also_fires_what_falls_due_while_it_runs():
    """The beat's sweep looks at the clock for every batch (lateness near one interval)."""
    import time_machine

    from disputes import engine

    first = _due_order()
    later = _due_order()
    later.due_at = timezone.now() + dt.timedelta(seconds=5)
    later.save(update_fields=["due_at"])
    real_batch = engine.deadlines_sweep_batch
    calls: list[dt.datetime] = []

    def batch_then_time_passes(*, now, batch_size=None):
        calls.append(now)
        result = real_batch(now=now, batch_size=1)
        traveller.shift(dt.timedelta(seconds=10))  # the sweep took a while
        return result

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        engine_batch = engine.deadlines_sweep_batch
        engine.deadlines_sweep_batch = batch_then_time_passes  # type: ignore[assignment]
        try:
            fired = engine.enforce_deadlines(time_budget=60)
        finally:
            engine.deadlines_sweep_batch = engine_batch  # type: ignore[assignment]
    assert fired == 2
    first.refresh_from_db()
    later.refresh_from_db()
    assert first.status == later.status == "fired"
    assert calls[1] > calls[0]  # the second batch saw a later clock


def test_the_command_sweeps_up_to_the_moment_it_started():
    from io import StringIO

    from django.core.management import call_command

    _due_order()
    future = _due_order()
    future.due_at = timezone.now() + dt.timedelta(hours=1)
    future.save(update_fields=["due_at"])
    out = StringIO()
    call_command("enforce_deadlines", stdout=out)
    assert "fired 1" in out.getvalue()
