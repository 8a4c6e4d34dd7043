"""Helpers for tests that must edit the audit log behind the application's back."""

from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def audit_trigger_disabled():
    """What a DBA would do to correct a row: disable the append-only trigger (core migration 0005)
    inside one transaction. The hash chain still shows the edit (`manage.py verify_case`)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            # ALTER TABLE waits for no deferred FK check of this transaction's own inserts.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE core_event DISABLE TRIGGER core_event_append_only")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE core_event ENABLE TRIGGER core_event_append_only")
