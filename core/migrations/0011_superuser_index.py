"""The superusers, found without reading every user (issue #9).

core.roles.platform_staff finds the platform's people as the members of the agents' and arbitrators'
groups plus every superuser. Nothing indexed `is_superuser`, so that half read all of `auth_user`,
where a marketplace's buyers and sellers are. A partial index holds the few superusers only.

The user model is Django's (`auth_user`), so the index is this app's SQL, not a model's Meta; on
PostgreSQL it is built and dropped CONCURRENTLY (a live system keeps signing people up meanwhile,
hence not atomic), elsewhere (the quick start's SQLite, which has partial indexes too) the plain way.
"""

from django.conf import settings
from django.db import migrations

NAME = "auth_user_superuser_idx"


def _table(apps) -> str:
    app_label, model_name = settings.AUTH_USER_MODEL.split(".")
    return apps.get_model(app_label, model_name)._meta.db_table


def forwards(apps, schema_editor):
    concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX{concurrently} IF NOT EXISTS {NAME} ON {_table(apps)} (id) WHERE is_superuser"
    )


def backwards(apps, schema_editor):
    concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP INDEX{concurrently} IF EXISTS {NAME}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("core", "0010_idempotency_user_index_covered"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
