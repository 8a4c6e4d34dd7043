"""Celery tasks. They take plain values and call selectors or services; none is ever queued far ahead."""

import datetime as dt

from celery import shared_task

from . import selectors


@shared_task(name="dashboard.tasks.count_overview", ignore_result=True)
def count_overview(days: int, now: str, token: str) -> None:
    """The overview's numbers counted again as of `now` (ISO 8601) for the agent who found them old
    (selectors.overview, core.cache.kept_for), who holds the lock `token`."""
    selectors.overview_keep(days=days, now=dt.datetime.fromisoformat(now), token=token)
