"""The audit log is append-only in the database itself (issue #8): UPDATE, DELETE and TRUNCATE on
core_event raise, whoever connects. Comes after 0004, the one migration that rewrites events.

TRUNCATE is let through only for a session that sets `core.allow_event_truncate = on` (the test
profile does, because Django's test runner empties tables between transactional tests). A DBA who
must correct a row disables the trigger in their own transaction; the hash chain shows the edit.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION core_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND coalesce(current_setting('core.allow_event_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'core_event is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation', HINT = 'audit events are never changed or removed';
END
$$;
"""

CREATE = """
CREATE TRIGGER core_event_append_only BEFORE UPDATE OR DELETE ON core_event
    FOR EACH ROW EXECUTE FUNCTION core_event_append_only();
CREATE TRIGGER core_event_no_truncate BEFORE TRUNCATE ON core_event
    FOR EACH STATEMENT EXECUTE FUNCTION core_event_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS core_event_no_truncate ON core_event;
DROP TRIGGER IF EXISTS core_event_append_only ON core_event;
DROP FUNCTION IF EXISTS core_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0004_event_hash_chain_backfill")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
