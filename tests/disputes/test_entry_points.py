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
