"""Autovacuum keeps up with the chain heads (issue #9, docs/DEPLOY.md).

Every audit event updates its subject's chain head: on the peak day hundreds of thousands of updates a
minute. Their room on the page (core 0007) makes most of them HOT, but the rest leave dead versions
that PostgreSQL's default (a vacuum once a fifth of the table is dead) lets pile up across millions of
heads. Here a vacuum comes after 1 % of the table, an analyze after 2 % (an analysis of the heads
while few made their lookups full scans once they were a million: docs/DEPLOY.md). Storage parameters
of the table, so every deployment has them. PostgreSQL only.
"""

from django.db import migrations

from core.storage import table_storage


class Migration(migrations.Migration):
    dependencies = [("core", "0007_eventchain_fillfactor")]

    operations = [
        table_storage("core_eventchain", autovacuum_vacuum_scale_factor=0.01, autovacuum_analyze_scale_factor=0.02),
    ]
