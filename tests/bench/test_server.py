"""bench.server: the server's own settings, as a bench's first lines show them."""

import pytest
from django.db import connection

from bench import server

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's settings"),
]


def test_the_shown_settings_are_the_servers_own():
    with connection.cursor() as cursor:
        line = server.shown(cursor)
        cursor.execute(
            "SELECT current_setting('shared_buffers'), current_setting('wal_buffers'),"
            " current_setting('synchronous_commit')"
        )
        shared_buffers, wal_buffers, synchronous_commit = cursor.fetchone()
    assert line.startswith("PostgreSQL 1")
    assert f"shared_buffers {shared_buffers}," in line and f"synchronous_commit {synchronous_commit}," in line
    assert f"wal_buffers {wal_buffers}," in line
    assert [part.split()[0] for part in line.split(": ", 1)[1].split(", ")] == list(server.SHOWN[1:])
