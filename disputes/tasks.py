"""Celery tasks. They take ids (or nothing) and call services; none is ever queued far ahead."""

from celery import shared_task
from django.conf import settings

from . import engine


@shared_task(name="disputes.tasks.enforce_deadlines", ignore_result=True)
def enforce_deadlines() -> int:
    """The beat's sweep (every DEADLINE_SWEEP_INTERVAL_SECONDS): fire every due deadline."""
    return engine.enforce_deadlines(time_budget=settings.DEADLINE_SWEEP_TIME_BUDGET_SECONDS)
