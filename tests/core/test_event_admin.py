"""The audit log in Django's admin at its size (#9): newest first through the primary key, since `at`
has no index of its own (every transition would pay for it), nothing that reads the whole log, and a
search by subject through its chain's index."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Event
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_admin_lists_the_newest_events_first_by_id_without_reading_at_for_the_order(client):
    for n in range(3):
        Event.objects.create(action=f"test.step{n}", subject_kind="order", subject_id=1)
    operator = UserFactory(is_staff=True, is_superuser=True)
    operator.save()  # the factory set its password after creating it: the session's hash must match
    client.force_login(operator)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/admin/core/event/")
    assert response.status_code == 200
    body = response.content.decode()
    body = body[body.index('id="result_list"') :]  # the rows
    assert body.index("test.step2") < body.index("test.step1") < body.index("test.step0")
    events = [q["sql"] for q in ctx.captured_queries if 'FROM "core_event"' in q["sql"]]
    assert not [sql for sql in events if "DISTINCT" in sql or ("COUNT(*)" in sql and "LIMIT 10001" not in sql)], events
    listing = [sql for sql in events if "ORDER BY" in sql]
    assert listing and all('ORDER BY "core_event"."id" DESC' in sql for sql in listing), listing
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'core_event'")
        assert not [d for (d,) in cursor.fetchall() if "(at)" in d]


def test_the_admin_finds_a_subjects_events_by_kind_and_id_and_nothing_for_a_malformed_search(client):
    Event.objects.create(action="order.paid", subject_kind="order", subject_id=7)
    Event.objects.create(action="order.paid", subject_kind="order", subject_id=8)
    Event.objects.create(action="refund.filed", subject_kind="refund", subject_id=7)
    operator = UserFactory(is_staff=True, is_superuser=True)
    operator.save()
    client.force_login(operator)
    found = client.get("/admin/core/event/", {"q": "order:7"}).context["cl"].result_list
    assert [(e.subject_kind, e.subject_id) for e in found] == [("order", 7)]
    for malformed in ("order", "order:x", ":", "7"):
        response = client.get("/admin/core/event/", {"q": malformed})
        assert response.status_code == 200 and list(response.context["cl"].result_list) == []


def test_loading_the_apps_does_not_import_the_api_whose_modules_cost_each_sweeping_worker_8_mib():
    """The admin's paginator lives in core.paginators: importing it from core.api pulled DRF's pagination,
    views and renderers into every process that loads the apps, a sweeping worker too (bench 6: 65 → 73
    MiB per worker)."""
    import os
    import subprocess
    import sys

    probe = (
        "import sys, django; django.setup(); "
        "print(sorted(m for m in ('core.api', 'rest_framework.pagination') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env={**os.environ}
    ).stdout
    assert out.strip() == "[]"
