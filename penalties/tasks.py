"""Celery tasks. They take plain values and call selectors or services; none is ever queued far ahead."""

import datetime as dt

from celery import shared_task

from . import selectors


@shared_task(name="penalties.tasks.count_category", ignore_result=True)
def count_category(category: str, days: int, now: str, token: str) -> None:
    """A category's §9 figures counted again as of `now` (ISO 8601) for the viewer who found them old
    (selectors._category_counts, core.cache.kept_for), who holds the lock `token`."""
    selectors.category_counts_keep(category=category, days=days, now=dt.datetime.fromisoformat(now), token=token)
