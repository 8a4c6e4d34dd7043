"""The sweeper's due index carries the id (issue #9).

A claim takes the oldest due deadlines, ties by id (`disputes.engine.claimable`). With the index on
`due_at` alone, PostgreSQL read and sorted every row sharing the oldest due time to hand out a batch —
and on the peak day many rows share one: a presale's orders all ship by the same date. At 100,000 such
rows a claim of 500 took 71.6 ms (an external merge sort), with `(due_at, id)` 4.5 ms.

On PostgreSQL the new index is built and the old one dropped CONCURRENTLY, so a live system keeps
writing deadlines meanwhile (hence not atomic); elsewhere (the quick start's SQLite) the plain way.
"""

from django.db import migrations, models

CONDITION = models.Q(("paused_at__isnull", True), ("status", "pending"))
OLD = models.Index(condition=CONDITION, fields=["due_at"], name="deadline_due_pending_idx")
NEW = models.Index(condition=CONDITION, fields=["due_at", "id"], name="deadline_due_pending_idx")


def _swap(apps, schema_editor, *, to: models.Index, away: models.Index, columns: str) -> None:
    model = apps.get_model("disputes", "Deadline")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.remove_index(model, away)
        schema_editor.add_index(model, to)
        return
    table = model._meta.db_table
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY deadline_due_pending_idx_next ON {table} ({columns})"
        " WHERE paused_at IS NULL AND status = 'pending'"
    )
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS deadline_due_pending_idx")
    schema_editor.execute("ALTER INDEX deadline_due_pending_idx_next RENAME TO deadline_due_pending_idx")


def forwards(apps, schema_editor):
    _swap(apps, schema_editor, to=NEW, away=OLD, columns="due_at, id")


def backwards(apps, schema_editor):
    _swap(apps, schema_editor, to=OLD, away=NEW, columns="due_at")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("disputes", "0005_deadline_fillfactor")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.RemoveIndex(model_name="deadline", name="deadline_due_pending_idx"),
                migrations.AddIndex(model_name="deadline", index=NEW),
            ],
        )
    ]
