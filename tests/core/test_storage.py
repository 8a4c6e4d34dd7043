"""Storage settings the hot paths rely on (issue #9)."""

import pytest
from django.apps import apps
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


# Our apps' models' tables; Django's own (auth, sessions, tokens, the many-to-many tables it makes)
# keep Django's indexes.
OUR_APPS = ("orders", "disputes", "penalties", "evidence", "aftersales", "core")

_COVERED_INDEXES = """
WITH idx AS (
    SELECT i.indexrelid::regclass::text AS name, c.relname AS tbl, i.indkey::text AS keys,
           i.indclass::text AS classes, i.indpred IS NOT NULL AS partial, i.indisunique AS uniq
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relname = ANY(%s)
)
SELECT a.tbl, a.name, b.name FROM idx a JOIN idx b ON a.tbl = b.tbl AND a.name <> b.name
WHERE NOT a.uniq AND NOT a.partial AND NOT b.partial
  AND (b.keys || ' ') LIKE (a.keys || ' %%') AND (b.classes || ' ') LIKE (a.classes || ' %%')
"""


@pytest.mark.django_db
def test_no_index_of_ours_is_the_leading_part_of_another_on_its_table():
    """#9: an index whose columns lead another index of the same table (Django's plain index of a
    foreign key beside a composite one starting with that key) serves no query the other does not, and
    costs an entry on every insert and every update that is not in place."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's catalogue")
    with connection.cursor() as c:
        tables = [m._meta.db_table for m in apps.get_models() if m._meta.app_label in OUR_APPS]
        assert "orders_order" in tables and "disputes_refund" in tables
        c.execute(_COVERED_INDEXES, [tables])
        assert c.fetchall() == []
        # The check finds one: a plain index of the orders' shop beside order_shop_status_idx.
        c.execute("CREATE INDEX order_shop_plain ON orders_order (shop_id)")
        c.execute(_COVERED_INDEXES, [tables])
        assert c.fetchall() == [("orders_order", "order_shop_plain", "order_shop_status_idx")]


@pytest.mark.django_db
def test_an_index_added_concurrently_needs_its_migration_outside_a_transaction():
    """core.storage.AddIndexConcurrently (penalties 0004 builds penalty_item_idx with it, so the
    penalties' inserts are not held while it reads the table): inside a transaction PostgreSQL cannot
    build concurrently, and the operation says so instead of failing half-way."""
    from django.db import NotSupportedError, models
    from django.db.migrations.state import ProjectState

    from core.storage import AddIndexConcurrently

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's concurrent build")
    operation = AddIndexConcurrently("notification", models.Index(fields=["kind"], name="notification_kind_tmp"))
    before = ProjectState.from_apps(apps)
    after = before.clone()
    operation.state_forwards("core", after)
    with connection.schema_editor(atomic=True) as editor, pytest.raises(NotSupportedError, match="atomic = False"):
        operation.database_forwards("core", editor, before, after)
    with connection.cursor() as c:
        c.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'penalty_item_idx'")
        assert "WHERE (NOT ((sku)::text = ''::text))" in c.fetchone()[0]  # built by the migration
