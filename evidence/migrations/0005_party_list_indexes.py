from django.db import migrations, models

from core.storage import AddIndexConcurrently


class Migration(migrations.Migration):
    # A party's list of evidence (#9): the evidence on their shops' disputes and on their own as a buyer,
    # each in its order, built without blocking the table's writes (core.storage.AddIndexConcurrently).
    atomic = False

    dependencies = [
        ("evidence", "0004_evidence_parties"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="evidence",
            index=models.Index(
                condition=models.Q(("shop__isnull", False)), fields=["shop", "submitted_at", "id"], name="evidence_shop_idx"
            ),
        ),
        AddIndexConcurrently(
            model_name="evidence",
            index=models.Index(
                condition=models.Q(("buyer__isnull", False)),
                fields=["buyer", "submitted_at", "id"],
                name="evidence_buyer_idx",
            ),
        ),
    ]
