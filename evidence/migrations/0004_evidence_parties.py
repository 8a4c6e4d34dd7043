import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

SUBJECTS = (("refund", "Refund"), ("complaint", "Complaint"), ("case", "Case"))


def copy_parties(apps, schema_editor):
    """Each linked item's shop and buyer, from its refund, complaint or case (evidence.services._link
    copies them from now on)."""
    Evidence = apps.get_model("evidence", "Evidence")
    for field, model_name in SUBJECTS:
        subject = apps.get_model("disputes", model_name).objects.filter(pk=OuterRef(f"{field}_id"))
        Evidence.objects.filter(**{f"{field}__isnull": False}).update(
            shop=Subquery(subject.values("shop_id")[:1]), buyer=Subquery(subject.values("buyer_id")[:1])
        )


class Migration(migrations.Migration):
    # A party's list of evidence reads the subject's shop and buyer on the evidence itself (#9); their
    # indexes are built in 0005, concurrently.
    dependencies = [
        ("disputes", "0009_staff_list_order_index"),
        ("evidence", "0003_staff_list_order_index"),
        ("orders", "0005_staff_list_order_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="evidence",
            name="buyer",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="evidence",
            name="shop",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="orders.shop",
            ),
        ),
        migrations.RunPython(copy_parties, migrations.RunPython.noop),
    ]
