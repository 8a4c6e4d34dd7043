"""Two filings on one order at once (R-F05), now that a filing writes its rows in one statement with
an id drawn under the order's lock (core.inserts.Writes, #9): the second waits on the lock, then reads
the first's refund and is refused in words, never by the unique constraint's IntegrityError."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from core import chain
from core.errors import DomainError
from disputes import services as refunds
from disputes.models import Deadline, Refund
from tests.disputes.helpers import make_order


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_second_filing_waits_for_the_first_and_is_refused_in_words(cast):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    order = make_order(cast, "not_shipped")
    filed, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def file(name: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                results[name] = refunds.refund_file(
                    actor=cast.buyer,
                    buyer=cast.buyer,
                    order=order,
                    kind="refund_only",
                    reason="ordered_by_mistake",
                    amount=Decimal("9.90"),
                )
                if hold:  # keep the order locked until the other filing waits on it
                    filed.set()
                    release.wait(30)
        except BaseException as exc:  # examined below
            results[name] = exc
        finally:
            filed.set()
            connection.close()

    first = threading.Thread(target=file, args=("first", True))
    first.start()
    assert filed.wait(30)
    second = threading.Thread(target=file, args=("second", False))
    second.start()
    deadline = time.monotonic() + 30
    while _waiting_on_a_lock() == 0 and time.monotonic() < deadline:  # the second blocked on the order's lock
        time.sleep(0.01)
    assert _waiting_on_a_lock() == 1
    release.set()
    first.join(30)
    second.join(30)

    refund = results["first"]
    assert isinstance(refund, Refund), refund
    error = results["second"]
    assert isinstance(error, DomainError) and error.code == "open_refund_exists", error
    assert list(Refund.objects.filter(order=order).values_list("id", flat=True)) == [refund.pk]
    assert Deadline.objects.filter(subject_kind="refund", subject_id=refund.pk).count() == 2
    assert chain.chain_verify(subject_kind="refund", subject_id=refund.pk) is None
