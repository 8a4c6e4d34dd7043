"""core.roles.platform_staff: the active agents, arbitrators and superusers, found from their group
memberships and the superusers' partial index, never by reading every user (#9)."""

import pytest
from django.db import connection

from core.roles import Role, platform_staff
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _names(qs):
    return sorted(qs.values_list("username", flat=True))


def test_the_platforms_people_are_its_active_agents_arbitrators_and_superusers(cast):
    root = UserFactory(username="root", roles=[], is_superuser=True)
    UserFactory(username="gone_agent", roles=["agent"], is_active=False)
    UserFactory(username="gone_root", roles=[], is_superuser=True, is_active=False)
    both = UserFactory(username="both", roles=["agent", "arbitrator"])
    assert _names(platform_staff()) == sorted(["agent", "arbitrator", "both", "root"])  # each once
    assert _names(platform_staff(Role.ARBITRATOR)) == sorted(["arbitrator", "both", "root"])
    assert _names(platform_staff(Role.AGENT)) == sorted(["agent", "both", "root"])
    # Lazy: a queryset that sees who is staff when it is read, not when it was built.
    later = platform_staff(Role.ARBITRATOR)
    root.is_superuser = False
    root.save()
    both.groups.clear()
    assert _names(later) == ["arbitrator"]


def test_the_platforms_people_are_read_without_reading_every_user(cast):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'auth_user_superuser_idx'")
        index = cursor.fetchone()
        assert index is not None and "WHERE is_superuser" in index[0], "core 0011 builds the superusers' index"
        for qs in (platform_staff(), platform_staff(Role.ARBITRATOR).order_by("username")):
            sql, params = qs.query.sql_with_params()
            cursor.execute("SET LOCAL enable_seqscan = off")  # a test's table is small enough to scan
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "auth_user_superuser_idx" in plan, plan
            assert "Seq Scan" not in plan, plan


def test_the_staff_fields_read_the_staff_when_used_not_when_declared(cast, api):
    from dashboard.forms import LogisticsClaimForm, RegistrationForm

    newcomer = UserFactory(username="newcomer", roles=["agent"])  # made staff after the forms were defined
    for form in (RegistrationForm(), LogisticsClaimForm()):
        assert newcomer in form.fields["handler"].queryset
        assert cast.buyer not in form.fields["handler"].queryset
    # The API's staff field (aftersales.serializers) validates against the staff of the request's time.
    response = api(cast.agent).post(
        "/api/v1/registrations/",
        {"source": "phone", "type": "inquiry", "summary": "来电咨询", "handler": newcomer.pk},
        format="json",
    )
    assert response.status_code == 201, response.data
    assert response.data["handler"] == newcomer.pk
    refused = api(cast.agent).post(
        "/api/v1/registrations/",
        {"source": "phone", "type": "inquiry", "summary": "来电咨询", "handler": cast.buyer.pk},
        format="json",
    )
    assert refused.status_code == 400 and "handler" in refused.data
