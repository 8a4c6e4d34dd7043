"""Storage parameters of a table, set by a migration (issue #9): fill factors and autovacuum settings
of the tables the sweeper writes hardest. PostgreSQL only; elsewhere (the quick start's SQLite) the
operation does nothing."""

from __future__ import annotations

from django.db import NotSupportedError, migrations


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


class AddIndexConcurrently(migrations.AddIndex):
    """AddIndex that builds the index without blocking the table's writes on PostgreSQL (`CREATE INDEX
    CONCURRENTLY`: on a loaded primary a plain build would hold the sweeper's inserts for as long as it
    reads the table), and as AddIndex elsewhere (the quick start's SQLite). Its migration must say
    `atomic = False`: PostgreSQL builds concurrently only outside a transaction."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            if schema_editor.connection.in_atomic_block:
                raise NotSupportedError("AddIndexConcurrently needs a migration with atomic = False")
            schema_editor.add_index(model, self.index, concurrently=True)
        else:
            schema_editor.add_index(model, self.index)
