"""The bench's data generator where a bench's verdict depends on it: bench 2 measures the 10,000-pending
state again after the 1,000,000 (A-B-A), so the deadlines it loaded must go again, and nothing else."""

import datetime as dt

import pytest
from django.utils import timezone

from bench import generate, sweep
from disputes.models import Deadline


@pytest.mark.django_db
def test_remove_deadlines_takes_away_exactly_the_deadlines_loaded_after_the_first_state():
    generate.generate_base(scale=0.002)
    generate.generate_future_deadlines(50)  # the small state
    before = set(Deadline.objects.values_list("id", flat=True))
    first = sweep.max_deadline_id() + 1  # as bench.run takes it before the load
    generate.generate_future_deadlines(300)
    assert Deadline.objects.count() == len(before) + 300
    assert Deadline.objects.filter(id__gte=first, status="pending").count() == 300

    generate.remove_deadlines(first, 300)

    assert set(Deadline.objects.values_list("id", flat=True)) == before


@pytest.mark.django_db
def test_set_future_pending_keeps_the_oldest_and_touches_no_other_deadline():
    """bench.alternate moves between bench 2's states with it: down to `n`, the oldest `n` future
    pending deadlines stay; up to `n`, the missing ones are loaded; the rest of the table never moves."""
    generate.generate_base(scale=0.002)
    generate.generate_future_deadlines(50)
    future = Deadline.objects.filter(status="pending", due_at__gt=timezone.now())
    oldest = list(future.order_by("id").values_list("id", flat=True))
    generate.generate_future_deadlines(300)
    newest = future.order_by("-id").first()
    assert newest is not None and newest.pk not in oldest
    Deadline.objects.filter(pk=newest.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))  # due: not future
    Deadline.objects.filter(pk=oldest[0]).update(status="fired")  # no longer pending: not counted, not deleted
    others = set(Deadline.objects.exclude(pk__in=future.values("pk")).values_list("pk", flat=True))

    generate.set_future_pending(40)

    assert list(future.order_by("id").values_list("id", flat=True)) == oldest[1:41]
    assert set(Deadline.objects.exclude(pk__in=future.values("pk")).values_list("pk", flat=True)) == others

    generate.set_future_pending(120)

    assert future.count() == 120
    assert list(future.order_by("id").values_list("id", flat=True))[:40] == oldest[1:41]
    assert set(Deadline.objects.exclude(pk__in=future.values("pk")).values_list("pk", flat=True)) == others
