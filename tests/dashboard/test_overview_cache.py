"""The overview's numbers are the same for every agent and, at a peak's size, read the month's cases and
fired deadlines whole (#9: 1.5-1.8 s per view of the bench database): they are counted once per
DASHBOARD_OVERVIEW_CACHE_SECONDS and the page says when; once they are older a worker counts them
again (handed the count through the real broker) while every agent gets the older ones."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard import selectors
from tests.broker import run_queued
from tests.dashboard.conftest import refund_case
from tests.disputes.helpers import T0

pytestmark = pytest.mark.django_db

LATER = T0 + dt.timedelta(days=6)


def _opened(data) -> int:
    return sum(opened for _, opened, _ in data["per_day"])


def test_the_overview_is_counted_once_per_period_and_says_when(cast, settings, browser_client):
    settings.DASHBOARD_OVERVIEW_CACHE_SECONDS = 60
    cache.delete_many(["dashboard:overview:v1:7", "dashboard:overview:v1:7:counting"])  # kept beyond a test
    refund_case(cast)
    with time_machine.travel(LATER, tick=False):
        first = selectors.overview(days=7)
    assert (_opened(first), first["as_of"]) == (1, LATER)

    refund_case(cast, when=T0 + dt.timedelta(days=5, hours=1))
    with time_machine.travel(LATER + dt.timedelta(seconds=59), tick=False), CaptureQueriesContext(connection) as q:
        kept = selectors.overview(days=7)
    assert (_opened(kept), kept["as_of"], len(q.captured_queries)) == (1, LATER, 0)

    minute = LATER + dt.timedelta(seconds=60)
    with time_machine.travel(minute, tick=False), CaptureQueriesContext(connection) as q:
        older = selectors.overview(days=7)
    assert (_opened(older), older["as_of"], len(q.captured_queries)) == (1, LATER, 0), "older: a worker counts"
    token = cache.get("dashboard:overview:v1:7:counting")
    assert token and run_queued("dashboard.tasks.count_overview", lambda args: args[0] == 7 and args[-1] == token) == 1
    with time_machine.travel(minute, tick=False):
        renewed = selectors.overview(days=7)
        body = browser_client(cast.agent).get("/overview/").content.decode()
    assert (_opened(renewed), renewed["as_of"]) == (2, minute), "as of the view that asked"
    assert 'id="overview-as-of"' in body and "数据截至" in body


def test_with_the_cache_off_every_view_counts(cast, settings):
    settings.DASHBOARD_OVERVIEW_CACHE_SECONDS = 0
    refund_case(cast)
    with time_machine.travel(LATER, tick=False):
        assert _opened(selectors.overview(days=7)) == 1
    refund_case(cast, when=T0 + dt.timedelta(days=5, hours=1))
    with time_machine.travel(LATER, tick=False):
        assert _opened(selectors.overview(days=7)) == 2


def test_a_shops_record_says_when_its_category_was_counted(cast, browser_client):
    with time_machine.travel(LATER, tick=False):
        body = browser_client(cast.seller).get("/seller/record/").content.decode()
    assert 'class="category-as-of"' in body and "同类目数据截至 2026-" in body
