from django.db import migrations, models

from core.storage import AddIndexConcurrently


class Migration(migrations.Migration):
    # The staff's list of evidence in its order (#9), built without blocking the table's writes
    # (core.storage.AddIndexConcurrently).
    atomic = False

    dependencies = [
        ("evidence", "0002_fk_indexes_covered"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="evidence",
            index=models.Index(fields=["submitted_at", "id"], name="evidence_submitted_idx"),
        ),
    ]
