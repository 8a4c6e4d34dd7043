"""Storage settings the hot paths rely on (issue #9)."""

import pytest
from django.db import connection

from core import chain
from core.models import EventChain
from core.services import event_record
from tests.factories import ShopFactory


@pytest.mark.django_db
def test_chain_heads_leave_room_for_in_place_updates():
    """core 0007: a head's next version fits on its page (HOT update), so lookups do not walk dead
    versions between vacuums."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL storage parameter")
    with connection.cursor() as c:
        c.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [EventChain._meta.db_table])
        assert "fillfactor=70" in (c.fetchone()[0] or [])
    shop = ShopFactory()
    for i in range(3):
        event_record(subject=shop, action=f"shop.step{i}")
    assert EventChain.objects.get(subject_kind="shop", subject_id=shop.pk).length == 3
    assert chain.chain_verify(subject_kind="shop", subject_id=shop.pk) is None


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["disputes_deadline", "core_eventchain"])
def test_the_sweepers_hottest_tables_are_vacuumed_after_a_hundredth_of_them_is_dead(table):
    """disputes 0007, core 0008: autovacuum after 1 % dead (PostgreSQL's default waits for 20 %), and
    the room left on their pages (fill factor) kept alongside."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL storage parameters")
    with connection.cursor() as c:
        c.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [table])
        options = c.fetchone()[0] or []
    assert "autovacuum_vacuum_scale_factor=0.01" in options
    assert "autovacuum_analyze_scale_factor=0.02" in options
    assert any(o.startswith("fillfactor=") for o in options)
