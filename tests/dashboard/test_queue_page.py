"""The queue page at size (issue #9, bench 5): the short-lived caches never hide a row or a person, the
overdue view reads the same rows, the htmx table skips the filters' lists."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings

from dashboard import queue_page, selectors
from disputes.models import Case
from orders.models import Shop
from tests.dashboard.conftest import bulk_cases
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def rows_of(body: str) -> int:
    return body.count('name="case" value=')


@pytest.fixture
def fresh_caches(cast):
    """The caches of these tests start empty (by key: never a flush of a shared Redis)."""
    selectors.forget_choices(people=True, shops=True)
    for params in ({}, {"view": "overdue"}, {"kind": "refund"}):
        from django.core.cache import cache

        cache.delete(queue_page.count_cache_key(cast.agent, params, awaiting_ruling=False))


@override_settings(DASHBOARD_QUEUE_COUNT_CACHE_SECONDS=60)
def test_a_cached_count_never_hides_a_row(cast, browser_client, fresh_caches, django_assert_num_queries):
    client = browser_client(cast.agent)
    bulk_cases(cast, 3)
    assert "3 个案件" in client.get("/queue/").content.decode()
    bulk_cases(cast, 2)  # the cached count says 3: the short page tells 5 without a query
    body = client.get("/queue/").content.decode()
    assert rows_of(body) == 5 and "5 个案件" in body
    bulk_cases(cast, 60)  # a full page while the cache says 5: counted again
    body = client.get("/queue/").content.decode()
    assert rows_of(body) == 50 and "65 个案件" in body and "?&page=2" in body
    assert rows_of(client.get("/queue/?page=2").content.decode()) == 15
    # Now the count comes from the cache: session, user, roles, the page, its deadlines.
    with django_assert_num_queries(5):
        assert rows_of(client.get("/queue/").content.decode()) == 50


@override_settings(DASHBOARD_QUEUE_COUNT_CACHE_SECONDS=60)
def test_a_cached_count_behind_or_ahead_still_serves_the_page_asked(cast, browser_client, fresh_caches):
    client = browser_client(cast.agent)
    cases = bulk_cases(cast, 60)
    assert "60 个案件" in client.get("/queue/").content.decode()
    bulk_cases(cast, 50)  # page 3 exists now although the cached count has two pages
    body = client.get("/queue/?page=3").content.decode()
    assert rows_of(body) == 10 and "110 个案件" in body and "3 / 3" in body
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(status=Case.Status.RULED)  # 50 left: page 3 is gone
    body = client.get("/queue/?page=3").content.decode()
    assert rows_of(body) == 50 and "50 个案件" in body


def test_a_new_agent_is_offered_at_once(cast, browser_client, fresh_caches):
    client = browser_client(cast.agent)
    assert "newcomer" not in client.get("/queue/").content.decode()
    newcomer = UserFactory(username="newcomer")
    newcomer.groups.add(Group.objects.get(name="agent"))
    assert client.get("/queue/").content.decode().count(">newcomer</option>") == 2  # filter and bulk assign
    newcomer.groups.clear()
    assert "newcomer" not in client.get("/queue/").content.decode()
    Shop.objects.create(name="新开的店", owner=cast.seller)
    assert ">新开的店</option>" in client.get("/queue/").content.decode()


def test_overdue_view_reads_overdue_cases_and_those_past_due(cast, browser_client, fresh_caches):
    flagged = bulk_cases(cast, 1, overdue=True, due_in=dt.timedelta(days=3))[0]
    past = bulk_cases(cast, 1, due_in=-dt.timedelta(minutes=5))[0]
    future = bulk_cases(cast, 1)[0]
    body = browser_client(cast.agent).get("/queue/?view=overdue").content.decode()
    assert f"case-row-{flagged.pk}" in body and f"case-row-{past.pk}" in body
    assert f"case-row-{future.pk}" not in body and "2 个案件" in body


def test_htmx_table_skips_the_filters(cast, browser_client, fresh_caches, django_assert_max_num_queries):
    bulk_cases(cast, 3)
    client = browser_client(cast.agent)
    # Session, user, roles, the count, the page, its deadlines; no people, no shops.
    with django_assert_max_num_queries(6):
        partial = client.get("/queue/?kind=refund", HTTP_HX_REQUEST="true").content.decode()
    assert rows_of(partial) == 3 and "<select" not in partial


def test_search_by_shop_name_case_or_order_number(cast, browser_client, fresh_caches):
    mine = bulk_cases(cast, 2)
    other_shop = Shop.objects.create(name="另一家小店", owner=cast.seller)
    other = bulk_cases(cast, 1)[0]
    Case.objects.filter(pk=other.pk).update(shop=other_shop)
    client = browser_client(cast.agent)

    def found(q):
        body = client.get("/queue/", {"q": q}).content.decode()
        return sorted(int(pk) for pk in re.findall(r'id="case-row-(\d+)"', body))

    assert found("小店") == [other.pk]
    assert found(cast.shop.name[1:]) == sorted(c.pk for c in mine)
    assert found("没有这家店") == []
    assert mine[0].pk in found(str(mine[0].pk))  # a number is a case or an order number
    assert other.pk in found(str(other.order_id))
