"""Storage parameters of a table, set by a migration (issue #9): fill factors and autovacuum settings
of the tables the sweeper writes hardest. PostgreSQL only; elsewhere (the quick start's SQLite) the
operation does nothing."""

from __future__ import annotations

from django.db import migrations


def table_storage(table: str, **parameters: float) -> migrations.RunPython:
    """A migration operation that sets `parameters` on `table` (`ALTER TABLE … SET (…)`) and resets them
    when unapplied. Names and values are the migration's constants, never input."""
    assignments = ", ".join(f"{name} = {value}" for name, value in parameters.items())
    names = ", ".join(parameters)

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} SET ({assignments})")

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} RESET ({names})")

    return migrations.RunPython(forwards, backwards)
