"""The penalties' and the ledger's foreign keys, checked per statement (core.storage.SetCheckedForeignKey,
#9): each refuses what PostgreSQL's own constraint refused — a key that names no row, on INSERT and on
UPDATE; a DELETE of a row still named; a parent's key changed — and a concurrent DELETE waits for the
insert that names its row, then fails."""

import datetime as dt
from decimal import Decimal

import psycopg2
import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from core.storage import set_checked_name
from disputes.models import Deadline
from orders.models import Order, Shop
from penalties.models import LedgerEntry, LedgerMovement, Penalty
from tests.factories import OrderFactory, ShopFactory, UserFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the statement triggers are PostgreSQL's")

SET_CHECKED = [
    (LedgerEntry, "movement"),
    (LedgerMovement, "order"),
    (LedgerMovement, "penalty"),
    (LedgerMovement, "shop"),
    (Penalty, "beneficiary"),
    (Penalty, "deadline"),
    (Penalty, "issued_by"),
    (Penalty, "order"),
    (Penalty, "revoked_by"),
    (Penalty, "shop"),
]
IDS = [f"{model.__name__}.{name}" for model, name in SET_CHECKED]
MISSING = 2**31 - 7  # a key no row has


def _triggers() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal")
        return set(cursor.fetchall())


@pytest.mark.django_db
def test_every_key_without_a_constraint_is_checked_per_statement():
    """A foreign key with db_constraint=False in our apps is one of these ten, and each has its four
    triggers: no key may lose its check by a field's flag alone."""
    ours = ("orders", "disputes", "penalties", "core", "evidence", "aftersales")
    unconstrained = sorted(
        (model.__name__, field.name)
        for config in apps.get_app_configs()
        if config.label in ours
        for model in config.get_models()
        for field in model._meta.local_fields
        if isinstance(field, models.ForeignKey) and not field.db_constraint
    )
    assert unconstrained == sorted((model.__name__, name) for model, name in SET_CHECKED)
    triggers = _triggers()
    for model, name in SET_CHECKED:
        field = model._meta.get_field(name)
        stem = set_checked_name(model._meta.db_table, field.column)
        parent = field.target_field.model._meta.db_table
        for table, suffix in (
            (model._meta.db_table, "ins"),
            (model._meta.db_table, "upd"),
            (parent, "del"),
            (parent, "key"),
        ):
            assert (table, f"{stem}_{suffix}") in triggers, (table, stem, suffix)


def _fresh(model: type[models.Model]) -> models.Model:
    """A new row of `model` that nothing names yet."""
    if model is Penalty:
        shop = ShopFactory()
        return Penalty.objects.create(shop=shop, code="r_p01", points=1, source_kind="order", source_id=1)
    if model is LedgerMovement:
        return LedgerMovement.objects.create(debit="platform", credit="buyer:1", amount=Decimal("1.00"), reason="test")
    if model is Deadline:
        return Deadline.objects.create(
            subject_kind="order", subject_id=1, rule="R-T01", kind="test", started_at=timezone.now(),
            due_at=timezone.now() + dt.timedelta(days=1), duration_amount=72, duration_unit="hours",
        )  # fmt: skip
    if model is get_user_model():
        return UserFactory()
    if model is Shop:
        return ShopFactory()
    if model is Order:
        order = OrderFactory()
        order.items.all().delete()  # named by its items' own constraint otherwise
        return order
    raise AssertionError(model)


@pytest.fixture
def rows() -> dict[type[models.Model], models.Model]:
    """A penalty, its movement and an entry, every key of theirs naming a row."""
    order = OrderFactory()
    penalty = Penalty.objects.create(
        shop=order.shop, order=order, beneficiary=order.buyer, deadline=_fresh(Deadline), issued_by=UserFactory(),
        revoked_by=UserFactory(), code="r_p01", points=1, source_kind="order", source_id=order.pk,
    )  # fmt: skip
    movement = LedgerMovement.objects.create(
        debit=f"shop:{order.shop_id}", credit=f"buyer:{order.buyer_id}", amount=Decimal("5.00"), reason="test",
        order=order, shop=order.shop, penalty=penalty,
    )  # fmt: skip
    entry = LedgerEntry.objects.create(movement=movement, account="platform", amount=Decimal("5.00"), currency="CNY")
    return {Penalty: penalty, LedgerMovement: movement, LedgerEntry: entry}


def _copy_with(row: models.Model, column: str, value) -> None:
    """INSERT a copy of `row` (a new key) with `column` set to `value`, through SQL alone."""
    table = row._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE probe ON COMMIT DROP AS SELECT * FROM {table} WHERE id = %s", [row.pk])
        cursor.execute(
            f"UPDATE probe SET id = nextval(pg_get_serial_sequence(%s, 'id')), {column} = %s", [table, value]
        )
        if row._meta.model is Penalty and column != "deadline_id":
            cursor.execute("UPDATE probe SET deadline_id = NULL")  # one penalty per deadline
        cursor.execute(f"INSERT INTO {table} SELECT * FROM probe")  # a failure rolls the probe back with it
        cursor.execute("DROP TABLE probe")


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "name"), SET_CHECKED, ids=IDS)
def test_a_key_that_names_no_row_is_refused_on_insert_and_on_update(rows, model, name):
    row = rows[model]
    field = model._meta.get_field(name)
    stem = set_checked_name(model._meta.db_table, field.column)
    with pytest.raises(IntegrityError, match=stem), transaction.atomic():
        _copy_with(row, field.column, MISSING)
    with pytest.raises(IntegrityError, match=stem), transaction.atomic():
        model.objects.filter(pk=row.pk).update(**{field.attname: MISSING})
    with transaction.atomic():  # a key that names a row, and none (where the column may be null), pass
        _copy_with(row, field.column, _fresh(field.target_field.model).pk)
    if field.null:
        with transaction.atomic():
            model.objects.filter(pk=row.pk).update(**{field.attname: None})


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "name"), SET_CHECKED, ids=IDS)
def test_a_row_still_named_cannot_be_deleted_nor_its_key_changed(rows, model, name):
    row = rows[model]
    field = model._meta.get_field(name)
    parent = _fresh(field.target_field.model)  # named by this key only
    model.objects.filter(pk=row.pk).update(**{field.attname: parent.pk})
    stem = set_checked_name(model._meta.db_table, field.column)
    table = parent._meta.db_table
    with connection.cursor() as cursor:
        with pytest.raises(IntegrityError, match=stem), transaction.atomic():
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [parent.pk])
        with pytest.raises(IntegrityError, match="cannot change"), transaction.atomic():
            cursor.execute(f"UPDATE {table} SET id = %s WHERE id = %s", [MISSING, parent.pk])
        model.objects.filter(pk=row.pk).update(**{field.attname: getattr(row, field.attname)})
        with transaction.atomic():  # named by nothing now: it goes
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [parent.pk])


@pytest.mark.django_db(transaction=True)  # committed, so that the other session sees the shop
def test_an_update_that_leaves_the_key_alone_neither_checks_nor_locks_it(rows):
    """As PostgreSQL's own check: revoking a penalty must not wait for the sweeper's lock on its shop."""
    penalty = rows[Penalty]
    other = psycopg2.connect(**connection.get_connection_params())
    try:
        with other.cursor() as cursor:  # the shop held FOR UPDATE, as a sweeper's batch holds it
            cursor.execute("SELECT 1 FROM orders_shop WHERE id = %s FOR UPDATE", [penalty.shop_id])
            with connection.cursor() as ours, transaction.atomic():
                ours.execute("SET LOCAL lock_timeout = '2s'")
                Penalty.objects.filter(pk=penalty.pk).update(note="revoked by an agent")
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_a_delete_waits_for_the_insert_that_names_its_row_then_fails():
    order = OrderFactory()
    shop = ShopFactory()  # named by nothing until the insert below
    template = Penalty.objects.create(shop=order.shop, code="r_p01", points=1, source_kind="order", source_id=1)
    deleter = psycopg2.connect(**connection.get_connection_params())
    try:
        with transaction.atomic():
            _copy_with(template, "shop_id", shop.pk)  # the shop now locked FOR KEY SHARE until the commit
            with deleter.cursor() as cursor:
                cursor.execute("SET lock_timeout = '300ms'")
                with pytest.raises(psycopg2.errors.LockNotAvailable):
                    cursor.execute("DELETE FROM orders_shop WHERE id = %s", [shop.pk])
            deleter.rollback()
        with deleter.cursor() as cursor, pytest.raises(psycopg2.errors.ForeignKeyViolation):
            cursor.execute("DELETE FROM orders_shop WHERE id = %s", [shop.pk])
        deleter.rollback()
        with deleter.cursor() as cursor:  # above READ COMMITTED a delete is refused outright
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            with pytest.raises(psycopg2.errors.ForeignKeyViolation, match="READ COMMITTED only"):
                cursor.execute("DELETE FROM orders_shop WHERE id = %s", [ShopFactory().pk])
        deleter.rollback()
    finally:
        deleter.close()
