"""core.auth.TokenAuthentication: DRF's token scheme with the caller's roles read in the same statement."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.prepared import statement_of
from tests.factories import UserFactory


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.mark.django_db
def test_the_token_and_the_callers_roles_are_one_statement():
    if connection.vendor != "postgresql":
        pytest.skip("elsewhere DRF's own query and a roles query")
    client = _client(UserFactory(roles=["agent"]))
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/api/v1/cases/").status_code == 200
    sqls = [statement_of(q["sql"]) for q in ctx.captured_queries]
    auth = [sql for sql in sqls if "authtoken_token" in sql]
    assert len(auth) == 1 and "auth_group" in auth[0]
    assert not [sql for sql in sqls if "auth_group" in sql and "authtoken_token" not in sql]


@pytest.mark.django_db
def test_the_token_is_read_by_a_prepared_statement():
    """After the first request of a session the token's statement is an EXECUTE (core.prepared, #9)."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    client = _client(UserFactory(roles=["agent"]))
    client.get("/api/v1/cases/")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/api/v1/cases/").status_code == 200
    auth = [q["sql"] for q in ctx.captured_queries if "authtoken_token" in statement_of(q["sql"])]
    assert len(auth) == 1 and auth[0].startswith("EXECUTE p_")


@pytest.mark.django_db
def test_roles_are_read_afresh_on_every_request():
    user = UserFactory(roles=["agent"])
    client = _client(user)
    assert client.get("/api/v1/cases/").status_code == 200
    user.groups.remove(Group.objects.get(name="agent"))
    user.groups.add(Group.objects.get_or_create(name="buyer")[0])
    assert client.get("/api/v1/cases/").status_code == 403  # the queue is the platform's
    user.groups.add(Group.objects.get(name="agent"))
    assert client.get("/api/v1/cases/").status_code == 200


@pytest.mark.django_db
def test_a_bad_token_or_an_inactive_user_is_refused():
    anonymous = APIClient()
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert anonymous.get("/api/v1/cases/").status_code == 401
    user = UserFactory(roles=["agent"])
    client = _client(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get("/api/v1/cases/").status_code == 401


@pytest.mark.django_db
def test_the_written_out_statement_builds_the_instances_the_orm_builds():
    if connection.vendor != "postgresql":
        pytest.skip("the statement is PostgreSQL's; elsewhere DRF's own query")
    from core.auth import TokenAuthentication

    user = UserFactory(roles=["agent", "arbitrator"])
    key = Token.objects.get_or_create(user=user)[0].key
    with CaptureQueriesContext(connection) as ctx:
        got_user, got_token = TokenAuthentication().authenticate_credentials(key)
        assert got_token.user is got_user and got_user.auth_token is got_token  # both ways cached
    assert len(ctx.captured_queries) == 1
    orm = Token.objects.select_related("user").get(key=key)
    for instance, expected in ((got_token, orm), (got_user, orm.user)):
        for f in type(expected)._meta.concrete_fields:
            assert getattr(instance, f.attname) == getattr(expected, f.attname), f.attname
        assert instance._state.adding is False and instance._state.db == "default"
    assert got_user._role_names == {"agent", "arbitrator"}


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["x" * 41, "ab\x00cd", ""])
def test_a_key_no_token_can_have_is_refused_not_an_error(key):
    from rest_framework.exceptions import AuthenticationFailed

    from core.auth import TokenAuthentication

    UserFactory(roles=["agent"])
    with pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate_credentials(key)
