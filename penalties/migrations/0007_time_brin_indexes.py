"""The staff's whole lists of penalties and of the ledger, read past a bound (#9).

The staff's unfiltered list of penalties (newest issued first) and of the ledger (oldest first) sorted
every row of their table for a page: 1.35–1.41 s and 0.30–0.34 s at 1.78 million penalties
(docs/PERFORMANCE.md). A B-tree in their order would add an entry to every penalty and movement R-T01's
sweep writes; these BRIN indexes add none to a row appended at the table's end, and let the page be read
past a bound taken from the primary key (core.api.RecordedOrderRows). Built concurrently, PostgreSQL only.
"""

from django.db import migrations

from core.storage import brin_index


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("penalties", "0006_foreign_keys_set_checked")]

    operations = [
        brin_index("penalty_issued_brin", "penalties_penalty", "issued_at"),
        brin_index("ledger_movement_at_brin", "penalties_ledgermovement", "at"),
    ]
