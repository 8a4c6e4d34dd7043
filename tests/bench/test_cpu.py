"""bench.cpu.Backend reads the CPU of the PostgreSQL backend serving a connection (the server's share
that `bench.profile` and `bench.profile_api` print beside their own process's): it counts work done by
the server, not by this process, and refuses a window in which the connection was reopened."""

import time

import pytest
from django.db import connection

from bench import cpu

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="reads a PostgreSQL backend's process"),
]


def _server_work(rows: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM generate_series(1, %s) AS g(n) WHERE n %% 7 = 3", [rows])
        cursor.fetchone()


def test_the_backend_cpu_counts_the_servers_work_not_this_processes():
    idle = cpu.Backend(connection).start()
    busy_here = time.process_time() + 0.3
    while time.process_time() < busy_here:  # this process busy, the server not
        pass
    idle.stop()

    busy = cpu.Backend(connection).start()
    _server_work(5_000_000)  # the server busy for a few hundred ms, this process waiting
    busy.stop()

    assert busy.cpu >= 0.1
    assert idle.cpu < 0.05
    assert busy.cpu > 5 * idle.cpu


@pytest.mark.django_db(transaction=True)  # the connection is closed, so no test transaction around it
def test_a_window_across_a_reconnection_is_refused():
    window = cpu.Backend(connection).start()
    connection.close()
    connection.ensure_connection()
    with pytest.raises(RuntimeError, match="reopened"):
        window.stop()
