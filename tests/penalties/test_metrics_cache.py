"""A category's §9 figures are counted once per METRICS_CATEGORY_CACHE_SECONDS and shared by every shop of
the category (#9: counting them took seconds per view of a shop's record at a peak's size); the shop's
own figures are counted on every view."""

import datetime as dt
import hashlib
import uuid

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from penalties.selectors import shop_metrics
from tests.disputes.helpers import T0
from tests.factories import OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db


def _paid(shop, at):
    order = OrderFactory(shop=shop)
    Order.objects.filter(pk=order.pk).update(paid_at=at, status="paid")


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

    with time_machine.travel(T0 + dt.timedelta(minutes=11), tick=False):
        renewed = shop_metrics(shop=shop)
    assert (renewed["category_shops"], renewed["category_as_of"]) == (3, T0 + dt.timedelta(minutes=11))


def test_with_the_cache_off_the_category_is_counted_on_every_view(settings):
    settings.METRICS_CATEGORY_CACHE_SECONDS = 0
    category = f"cat-{uuid.uuid4().hex}"
    shop = ShopFactory(category=category)
    with time_machine.travel(T0, tick=False):
        assert shop_metrics(shop=shop)["category_shops"] == 1
    ShopFactory(category=category)
    with time_machine.travel(T0 + dt.timedelta(seconds=1), tick=False):
        again = shop_metrics(shop=shop)
    assert (again["category_shops"], again["category_as_of"]) == (2, T0 + dt.timedelta(seconds=1))


def test_past_the_period_one_viewer_counts_again_and_the_others_get_the_older_figures(settings):
    """At a peak, every viewer of a category's shops would count the same figures at once the moment
    they grow old; one does (the lock), the others are answered with the older ones meanwhile."""
    settings.METRICS_CATEGORY_CACHE_SECONDS = 600
    category = f"cat-{uuid.uuid4().hex}"
    shop = ShopFactory(category=category)
    with time_machine.travel(T0, tick=False):
        assert shop_metrics(shop=shop)["category_as_of"] == T0
    ShopFactory(category=category)
    key = f"metrics:category:v1:30:{hashlib.sha256(category.encode()).hexdigest()[:32]}"
    assert cache.add(f"{key}:counting", 1, timeout=60), "no one is counting yet"
    later = T0 + dt.timedelta(minutes=11)
    with time_machine.travel(later, tick=False), CaptureQueriesContext(connection) as meanwhile:
        older = shop_metrics(shop=shop)
    assert (older["category_shops"], older["category_as_of"]) == (1, T0), "the older figures, while another counts"
    assert len(meanwhile.captured_queries) == 6, "only the shop's own figures were counted"
    cache.delete(f"{key}:counting")
    with time_machine.travel(later, tick=False):
        renewed = shop_metrics(shop=shop)
    assert (renewed["category_shops"], renewed["category_as_of"]) == (2, later)
    assert cache.add(f"{key}:counting", 1, timeout=60), "the counting caller let the lock go"
    cache.delete(f"{key}:counting")
