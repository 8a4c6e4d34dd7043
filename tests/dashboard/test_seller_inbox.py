"""The seller's inbox at a peak's size (#9): refunds and complaints most urgent first (the nearest
running clock; a paused one if nothing runs; the filing time if none), each list paged on its own and
counted to the queues' cap, in a number of statements that does not grow with the shop's open refunds.
A shop of the bench database with 10,804 refunds open waited 6.6-8.1 s for the inbox, which read and
drew them all."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.paginators import CappedCountPaginator
from dashboard import views
from disputes.models import Deadline
from tests.disputes.helpers import DAY, HOUR, T0, file_refund, make_order

pytestmark = pytest.mark.django_db


def _rows(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="refund-row-(\d+)"', html)]


def _refunds(cast, n: int) -> list:
    return [
        file_refund(cast, make_order(cast, "not_shipped"), at=T0 + k * HOUR, reason="out_of_stock") for k in range(n)
    ]


def _clocks(refund):
    return Deadline.objects.filter(subject_kind="refund", subject_id=refund.pk, status=Deadline.Status.PENDING)


def test_the_most_urgent_refund_comes_first_whatever_its_filing(cast, browser_client):
    first, second, third, fourth = _refunds(cast, 4)
    # The newest refund's clock runs out first; the second's clocks are paused, so it goes by their due
    # time only because nothing of it runs; the third has no clock left: its filing time orders it.
    Deadline.objects.filter(pk=_clocks(fourth).order_by("due_at").first().pk).update(due_at=T0 + HOUR // 2)
    _clocks(second).update(due_at=T0 + 10 * DAY, paused_at=timezone.now())
    _clocks(third).delete()
    html = browser_client(cast.seller).get("/seller/").content.decode()
    assert _rows(html) == [fourth.pk, third.pk, first.pk, second.pk]


def test_each_list_pages_on_its_own_and_says_when_it_stopped_counting(cast, browser_client, monkeypatch):
    refunds = _refunds(cast, 3)
    monkeypatch.setattr(views, "INBOX_PAGE_SIZE", 2)
    client = browser_client(cast.seller)
    page_one = client.get("/seller/").content.decode()
    assert _rows(page_one) == [r.pk for r in refunds[:2]] and "(3)" in page_one
    assert "?refunds_page=2" in page_one
    page_two = client.get("/seller/", {"refunds_page": 2}).content.decode()
    assert _rows(page_two) == [refunds[2].pk]
    assert "complaints_page" not in page_two, "the complaints' list is one page: no pager"
    monkeypatch.setattr(CappedCountPaginator, "CAP", 2)
    assert "(≥ 2)" in client.get("/seller/").content.decode()


def test_the_inbox_costs_the_same_statements_for_three_refunds_or_nine(cast, browser_client):
    client = browser_client(cast.seller)
    counts = []
    for n in (3, 6):
        _refunds(cast, n)
        client.get("/seller/")  # the session and the caches settle
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/seller/").status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1], counts
