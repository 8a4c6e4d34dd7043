"""Autovacuum keeps up with the deadlines (issue #9, docs/DEPLOY.md).

The sweeper writes every deadline twice after its insert (its lease, its end), and a claim reads the
pending index from its low end, where the fired rows' dead entries lie until a vacuum clears them. With
PostgreSQL's default (a vacuum once a fifth of the table is dead) a table of ten million deadlines
waits for two million dead versions; bench 3 measured what such a backlog costs a steady sweep at
8,970 due per second: p99 lateness 5.50 s on a table left unvacuumed after a burst, 2.05 s vacuumed
(2026-12-05). Here a vacuum comes after 1 % of the table, an analyze after 2 %. Storage parameters of
the table, so every deployment has them (a server with autovacuum off, as the benches' is, ignores
them). PostgreSQL only.
"""

from django.db import migrations

from core.storage import table_storage


class Migration(migrations.Migration):
    dependencies = [("disputes", "0006_deadline_due_index_with_id")]

    operations = [
        table_storage("disputes_deadline", autovacuum_vacuum_scale_factor=0.01, autovacuum_analyze_scale_factor=0.02),
    ]
