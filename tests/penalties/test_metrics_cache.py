"""A category's §9 figures are counted once per METRICS_CATEGORY_CACHE_SECONDS and shared by every shop of
the category (#9: counting them took seconds per view of a shop's record at a peak's size); once they
are older a worker counts them again, handed the count through the real broker, while every viewer is
answered with the older ones. The shop's own figures are counted on every view."""

import datetime as dt
import hashlib
import time
import uuid

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from penalties.selectors import category_counts_keep, shop_metrics
from tests.broker import broker_down, run_queued
from tests.disputes.helpers import T0
from tests.factories import OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db


def _paid(shop, at):
    order = OrderFactory(shop=shop)
    Order.objects.filter(pk=order.pk).update(paid_at=at, status="paid")


def _key(category: str) -> str:
    return f"metrics:category:v1:30:{hashlib.sha256(category.encode()).hexdigest()[:32]}"


def _counted_by_a_worker(category: str) -> int:
    """Run here, as a worker would, the count the view queued on the broker under its lock's token."""
    token = cache.get(f"{_key(category)}:counting")
    assert token, "the viewer who found the figures old holds the lock while a worker counts"
    return run_queued("penalties.tasks.count_category", lambda args: args[0] == category and args[-1] == token)


def _counted_at_t0_then_a_shop_more(settings, seconds: int):
    """A category of its own (the cache outlives a test's transaction) with one shop, its figures
    counted at T0 with the cache kept `seconds`; then a second shop joins it."""
    settings.METRICS_CATEGORY_CACHE_SECONDS = seconds
    category = f"cat-{uuid.uuid4().hex}"
    shop = ShopFactory(category=category)
    with time_machine.travel(T0, tick=False):
        first = shop_metrics(shop=shop)
    assert (first["category_shops"], first["category_as_of"]) == (1, T0)
    ShopFactory(category=category)
    return category, shop


def test_the_category_is_counted_once_per_period_and_the_shop_every_time(settings):
    settings.METRICS_CATEGORY_CACHE_SECONDS = 600
    category = f"cat-{uuid.uuid4().hex}"  # the cache outlives a test's transaction: a category of its own
    shop, peer = ShopFactory(category=category), ShopFactory(category=category)
    _paid(shop, T0 - dt.timedelta(days=1))
    _paid(peer, T0 - dt.timedelta(days=1))
    with time_machine.travel(T0, tick=False):
        first = shop_metrics(shop=shop)
    assert (first["orders"], first["category_shops"], first["category_as_of"]) == (1, 2, T0)

    _paid(shop, T0 - dt.timedelta(hours=1))
    _paid(peer, T0 - dt.timedelta(hours=1))
    ShopFactory(category=category)
    later = T0 + dt.timedelta(minutes=9)
    with time_machine.travel(later, tick=False), CaptureQueriesContext(connection) as fresh:
        kept = shop_metrics(shop=shop)
        other = shop_metrics(shop=peer)
    assert kept["orders"] == 2, "the shop's own figures are counted on every view"
    assert (kept["category_shops"], kept["category_as_of"], kept["intervention_count"]["category"]) == (2, T0, 0.0)
    assert (other["orders"], other["category_as_of"]) == (2, T0), "every shop of the category shares them"
    # The shop's own six counts, twice; nothing counted over the category.
    assert len(fresh.captured_queries) == 12, [q["sql"] for q in fresh.captured_queries]

    eleven = T0 + dt.timedelta(minutes=11)
    with time_machine.travel(eleven, tick=False), CaptureQueriesContext(connection) as handed:
        older = shop_metrics(shop=shop)
    assert (older["category_shops"], older["category_as_of"]) == (2, T0), "older: a worker counts them again"
    assert len(handed.captured_queries) == 6, "the viewer counted only the shop's own figures"
    assert _counted_by_a_worker(category) == 1
    with time_machine.travel(eleven, tick=False), CaptureQueriesContext(connection) as after:
        renewed = shop_metrics(shop=shop)
    assert (renewed["category_shops"], renewed["category_as_of"]) == (3, eleven), "as of the view that asked"
    assert len(after.captured_queries) == 6


def test_with_the_cache_off_the_category_is_counted_on_every_view(settings):
    _, shop = _counted_at_t0_then_a_shop_more(settings, 0)
    with time_machine.travel(T0 + dt.timedelta(seconds=1), tick=False):
        again = shop_metrics(shop=shop)
    assert (again["category_shops"], again["category_as_of"]) == (2, T0 + dt.timedelta(seconds=1))


def test_past_the_period_one_viewer_hands_the_count_over_and_everyone_gets_the_older_figures(settings):
    """At a peak, every viewer of a category's shops would count the same figures at once the moment
    they grow old; one hands the count to a worker (the lock), and everyone, that one included, is
    answered with the older figures meanwhile: no viewer waits for a category's count."""
    category, shop = _counted_at_t0_then_a_shop_more(settings, 600)
    key = _key(category)
    assert cache.add(f"{key}:counting", 1, timeout=60), "no one is counting yet"
    later = T0 + dt.timedelta(minutes=11)
    with time_machine.travel(later, tick=False), CaptureQueriesContext(connection) as meanwhile:
        older = shop_metrics(shop=shop)
    assert (older["category_shops"], older["category_as_of"]) == (1, T0), "the older figures, while another counts"
    assert len(meanwhile.captured_queries) == 6, "only the shop's own figures were counted"
    assert cache.get(f"{key}:counting") == 1, "another's lock is left alone"
    cache.delete(f"{key}:counting")

    with time_machine.travel(later, tick=False), CaptureQueriesContext(connection) as handing:
        handed = shop_metrics(shop=shop)
    assert (handed["category_shops"], handed["category_as_of"]) == (1, T0), "the one who hands it over waits neither"
    assert len(handing.captured_queries) == 6
    assert not cache.add(f"{key}:counting", 1, timeout=60), "its lock is held until the worker has counted"
    assert _counted_by_a_worker(category) == 1
    assert cache.add(f"{key}:counting", 1, timeout=60), "the worker let the viewer's lock go"
    cache.delete(f"{key}:counting")
    with time_machine.travel(later, tick=False):
        renewed = shop_metrics(shop=shop)
    assert (renewed["category_shops"], renewed["category_as_of"]) == (2, later)


def test_a_worker_lets_go_only_of_the_lock_it_was_handed(settings):
    """A count queued longer than the lock lasts finds another viewer's lock: it keeps its figures and
    leaves that lock to its holder."""
    settings.METRICS_CATEGORY_CACHE_SECONDS = 600
    category = f"cat-{uuid.uuid4().hex}"
    ShopFactory(category=category)
    key = _key(category)
    cache.set(f"{key}:counting", "another viewer's token", timeout=60)
    kept = category_counts_keep(category=category, days=30, now=T0, token="a lock that ran out")
    assert (kept["shops"], kept["as_of"]) == (1, T0)
    assert cache.get(key)["as_of"] == T0
    assert cache.get(f"{key}:counting") == "another viewer's token"
    cache.delete(f"{key}:counting")


def test_with_the_broker_down_the_viewer_who_took_the_lock_counts_them_at_once(settings, caplog):
    """Where the broker does not take the count (Redis down), the viewer who found the figures old
    counts them, as before the hand-over existed, without first waiting on the broker (left to kombu,
    6 s of connection retries), says so in the log and lets its lock go."""
    category, shop = _counted_at_t0_then_a_shop_more(settings, 600)
    later = T0 + dt.timedelta(minutes=11)
    with broker_down(), time_machine.travel(later), CaptureQueriesContext(connection) as counting:
        started = time.perf_counter()
        renewed = shop_metrics(shop=shop)
        took = time.perf_counter() - started
    assert renewed["category_shops"] == 2 and renewed["category_as_of"] >= later, "counted by the viewer"
    assert len(counting.captured_queries) > 6, "the category's figures besides the shop's own"
    assert took < 1.5, f"the viewer waited {took:.1f} s on the broker"
    assert "could not hand the count" in caplog.text
    assert cache.add(f"{_key(category)}:counting", 1, timeout=60), "the viewer let its lock go"
    cache.delete(f"{_key(category)}:counting")
    assert run_queued("penalties.tasks.count_category", lambda args: args[0] == category, wait=0.5) == 0
