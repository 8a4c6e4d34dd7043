"""The audit log is append-only in PostgreSQL itself (core migration 0005): whatever the code does,
UPDATE, DELETE and TRUNCATE on core_event raise; INSERT goes on."""

import pytest
from django.db import DatabaseError, connection, transaction

from core.models import Event
from core.services import event_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(cast):
    assert connection.vendor == "postgresql", "the trigger is PostgreSQL's"
    return event_record(subject=cast.shop, action="shop.audited", actor=cast.agent, data={"n": 1})


def _refused(sql: str, params=None) -> str:
    with pytest.raises(DatabaseError) as info, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    return str(info.value)


def test_update_through_the_orm_raises(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(action="shop.forged")
    event.refresh_from_db()
    assert event.action == "shop.audited"


def test_save_of_an_existing_event_raises(event):
    event.data = {"n": 2}
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.save()


def test_delete_raises_through_the_orm_and_in_raw_sql(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Event.objects.filter(pk=event.pk).delete()
    assert "DELETE refused" in _refused("DELETE FROM core_event WHERE id = %s", [event.pk])
    assert Event.objects.filter(pk=event.pk).exists()


def test_raw_update_raises(event):
    assert "UPDATE refused" in _refused("UPDATE core_event SET data = '{}' WHERE id = %s", [event.pk])


def test_truncate_raises_without_the_test_runner_setting(event):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK checks pending from the insert
        cursor.execute("SELECT set_config('core.allow_event_truncate', 'off', true)")
    assert "TRUNCATE refused" in _refused("TRUNCATE core_event CASCADE")
    assert Event.objects.filter(pk=event.pk).exists()


def test_inserts_go_on(event, cast):
    assert event_record(subject=cast.shop, action="shop.audited_again").seq == 2
