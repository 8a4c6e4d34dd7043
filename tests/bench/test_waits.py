"""bench.waits: what a database's backends wait for, sampled from pg_stat_activity by a thread with
a connection of its own, and pg_stat_wal's counters over the window (`bench.profile --waits`)."""

from collections import Counter

import pytest
from django.db import connection

from bench import waits
from core.models import Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's activity and WAL views")


def test_the_line_gives_each_wait_as_a_share_of_the_samples_and_the_wal_buffers_found_full():
    found = waits.Waits(
        events=Counter(
            {"CPU": 73, "LWLock:WALWrite": 20, "IO:DataFileRead": 4, "Lock:transactionid": 2, "Lock:extend": 1}
        ),
        wal=dict(wal_records=900, wal_fpi=12, wal_bytes=65_536, wal_buffers_full=40, wal_write=44, wal_sync=3),
    )
    assert found.samples == 100 and found.share("LWLock:WALWrite") == 0.2 and found.share("Lock:tuple") == 0.0
    line = found.line(100)
    assert "share of 100 backend samples: CPU 73.0%, LWLock:WALWrite 20.0%, IO:DataFileRead 4.0%" in line
    assert "heavyweight locks (Lock:*) 3.0% in all" in line
    assert "the WAL buffers found full 40 times (once every 2.5 firings), 44 writes, 3 syncs" in line
    assert "12 page images, 65,536 bytes" in line
    assert waits.Waits().line() == "waits, share of 0 backend samples: none"


@pytest.mark.django_db(transaction=True)  # the sampler's own connection sees only what is committed or running
def test_a_backend_is_sampled_under_what_it_waits_for_and_its_wal_is_counted():
    user = UserFactory()
    sampler = waits.Sampler().start()
    with connection.cursor() as c:
        c.execute("SELECT pg_sleep(0.4)")  # this test's backend waits on a timeout, the sampler watching
        Notification.objects.bulk_create(Notification(user=user, kind="test", title=f"n{i}") for i in range(50))
        c.execute("SELECT pg_stat_force_next_flush()")  # its WAL counters reported as it goes idle
    found = sampler.stop().waits
    assert found.events["Timeout:PgSleep"] >= 10  # 0.4 s sampled every 5 ms; the sampler's own backend left out
    assert found.share("Timeout:PgSleep") >= 0.8
    assert found.wal["wal_records"] >= 50 and found.wal["wal_bytes"] > 50 * 100  # a heap record per row at least
    assert set(found.wal) == set(waits.WAL_COUNTERS)
