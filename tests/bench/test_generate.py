"""The bench's data generator where a bench's verdict depends on it: bench 2 measures the 10,000-pending
state again after the 1,000,000 (A-B-A), so the deadlines it loaded must go again, and nothing else."""

import pytest

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
