"""The queue and the case page stay at a fixed number of queries with 500 cases present."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from dashboard import queue_page, selectors
from disputes.models import Deadline
from tests.dashboard.conftest import bulk_cases, refund_case

pytestmark = pytest.mark.django_db

N = 500


def forget_queue_caches(user, url):
    """Empty the queue's caches for `url` by key (never a flush of a shared Redis)."""
    from django.core.cache import cache
    from django.http import QueryDict

    selectors.forget_choices(people=True, shops=True)
    params = QueryDict(url.partition("?")[2])
    cache.delete(queue_page.count_cache_key(user, params, awaiting_ruling=False))


@pytest.fixture
def many_cases(cast):
    """500 refund cases in arbitration, each with its R-T12 deadline and an R-T09 on its refund, written
    in bulk (the services would take minutes): what the pages read, not how it got there."""
    now = timezone.now()
    cases = bulk_cases(
        cast, N, due_in=dt.timedelta(0), step=dt.timedelta(hours=1), assignee_every=3, amount=Decimal("99.00")
    )
    refunds = [c.refund for c in cases]
    Deadline.objects.bulk_create(
        [
            Deadline(
                subject_kind="case",
                subject_id=c.pk,
                rule="R-T12",
                kind="r_t12_platform_sla",
                started_at=now,
                due_at=now + dt.timedelta(hours=i),
                duration_amount=5,
                duration_unit="working_days",
            )
            for i, c in enumerate(cases)
        ]
        + [
            Deadline(
                subject_kind="refund",
                subject_id=r.pk,
                rule="R-T09",
                kind="r_t09_intervention_opens",
                started_at=now,
                due_at=now + dt.timedelta(days=15),
                duration_amount=15,
                duration_unit="days",
            )
            for r in refunds
        ]
    )
    return cases


def test_queue_query_count_is_bounded(cast, browser_client, many_cases, django_assert_num_queries):
    client = browser_client(cast.agent)
    urls = ["/queue/", "/queue/?view=mine", "/queue/?view=unassigned&page=3", "/queue/?view=overdue"]
    for url in urls:  # nothing cached (dashboard/queue_page.py): session, user, roles, count, page, its
        forget_queue_caches(cast.agent, url)  # deadlines (one query), the people (two), the shops
        with django_assert_num_queries(9):
            response = client.get(url)
        assert response.status_code == 200
    for url in urls:  # the people, the shops and this filter's count cached
        with django_assert_num_queries(5):
            response = client.get(url)
        assert response.status_code == 200
    with django_assert_num_queries(5):  # the htmx table: no people, no shops
        assert client.get("/queue/", HTTP_HX_REQUEST="true").status_code == 200
    body = client.get("/queue/").content.decode()
    assert body.count('name="case" value=') == 50
    assert "500 个案件" in body


def test_arbitration_home_query_count_is_bounded(cast, browser_client, many_cases, django_assert_max_num_queries):
    client = browser_client(cast.arbitrator)
    client.get("/arbitration/")
    # Session, user, roles, the page, its deadlines, the review requests (count, people, shops cached).
    with django_assert_max_num_queries(6):
        assert client.get("/arbitration/").status_code == 200


def test_case_page_query_count_is_bounded(cast, browser_client, many_cases, django_assert_max_num_queries):
    case = refund_case(cast)
    client = browser_client(cast.agent)
    client.get(f"/cases/{case.pk}/")
    with django_assert_max_num_queries(30):
        response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    # One of the bulk cases too: the count does not depend on the case.
    with django_assert_max_num_queries(30):
        assert client.get(f"/cases/{many_cases[250].pk}/").status_code == 200
