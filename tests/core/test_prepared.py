"""Server-side prepared statements (core/prepared.py): prepared once per session, answering exactly as
the statement unprepared, one query each time, and never stuck on a name the session lost."""

import pytest
from django.db import DatabaseError, DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from core import prepared
from core.auth import _token_sql
from core.prepared import statement_of

pytestmark = pytest.mark.django_db

SQL = "SELECT n, n * %s, %s || 'x' FROM generate_series(1, %s) AS n ORDER BY n"


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")


def _run(sql, params):
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, params)
        return cursor.fetchall()


def _plain(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _prepared_names():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def test_a_statement_is_prepared_once_per_session_and_answers_as_it_would_unprepared():
    sql = SQL + " -- once"
    with CaptureQueriesContext(connection) as first:
        rows = _run(sql, [3, "a", 4])
    with CaptureQueriesContext(connection) as second:
        again = _run(sql, [5, "b", 2])
    assert rows == _plain(sql, [3, "a", 4]) and again == _plain(sql, [5, "b", 2])
    assert len(first.captured_queries) == 1 and first.captured_queries[0]["sql"].startswith("PREPARE p_")
    assert len(second.captured_queries) == 1 and second.captured_queries[0]["sql"].startswith("EXECUTE p_")
    stem = prepared._form(sql)[0]
    assert f"{stem}_0" in _prepared_names()
    assert statement_of(first.captured_queries[0]["sql"]) == sql == statement_of(second.captured_queries[0]["sql"])


def test_percent_signs_are_kept_and_named_placeholders_or_many_values_run_unprepared():
    like = "SELECT 'a%%b' LIKE %s, %s::int + 1"
    assert _run(like, ["a%", 1]) == _plain(like, ["a%", 1]) == [(True, 2)]
    assert _run(like, ["b%", 2]) == [(False, 3)]
    named = "SELECT %(x)s::int * 2"
    with CaptureQueriesContext(connection) as ctx:
        assert _run(named, {"x": 21}) == [(42,)]
    assert ctx.captured_queries[0]["sql"] == "SELECT 21::int * 2"
    many = "SELECT " + " + ".join(["%s::int"] * (prepared.MAX_VALUES + 1))
    with CaptureQueriesContext(connection) as ctx:
        assert _run(many, [1] * (prepared.MAX_VALUES + 1)) == [(prepared.MAX_VALUES + 1,)]
    assert ctx.captured_queries[0]["sql"].startswith("SELECT 1::int + 1::int")


def test_off_when_turned_off_or_without_kept_connections(settings, monkeypatch):
    sql = SQL + " -- off"
    settings.DATABASE_PREPARED_STATEMENTS = False
    with CaptureQueriesContext(connection) as ctx:
        _run(sql, [1, "a", 1])
    assert not ctx.captured_queries[0]["sql"].startswith(("PREPARE", "EXECUTE"))
    settings.DATABASE_PREPARED_STATEMENTS = True
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    with CaptureQueriesContext(connection) as ctx:
        _run(sql, [1, "a", 1])
    assert not ctx.captured_queries[0]["sql"].startswith(("PREPARE", "EXECUTE"))
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    with CaptureQueriesContext(connection) as ctx:
        _run(sql, [1, "a", 1])
    assert ctx.captured_queries[0]["sql"].startswith("PREPARE")


def test_a_failed_execution_is_followed_by_a_fresh_name():
    sql = "SELECT 10 / %s -- divides"
    stem = prepared._form(sql)[0]
    with pytest.raises(DataError), transaction.atomic():
        _run(sql, [0])  # PREPARE succeeds, EXECUTE divides by zero: is it prepared? Not known
    assert f"{stem}_0" in _prepared_names()  # it is, in fact: a PREPARE outlives the error
    assert _run(sql, [5]) == [(2,)]  # prepared again, under another name (the same one would be refused)
    assert f"{stem}_1" in _prepared_names()
    assert _run(sql, [2]) == [(5,)]


def test_a_statement_that_failed_for_its_values_stays_prepared():
    sql = "SELECT 10 / %s -- refused for some values"
    assert _run(sql, [5]) == [(2,)]
    with pytest.raises(DataError), transaction.atomic():
        _run(sql, [0])  # a prepared statement's EXECUTE refused: the statement itself is fine
    with CaptureQueriesContext(connection) as ctx:
        assert _run(sql, [2]) == [(5,)]
    stem = prepared._form(sql)[0]
    assert [q["sql"] for q in ctx.captured_queries if stem in q["sql"]] == [f"EXECUTE {stem}_0(2)"]


def test_a_session_that_lost_its_statements_prepares_them_again():
    sql = SQL + " -- lost"
    assert _run(sql, [1, "a", 1]) == [(1, 1, "ax")]
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a pooler's DISCARD would
    try:
        with pytest.raises(DatabaseError, match="does not exist"), transaction.atomic():
            _run(sql, [1, "a", 1])  # inside a transaction the error stands: the transaction is lost anyway
        assert _run(sql, [2, "b", 2]) == [(1, 2, "bx"), (2, 4, "bx")]
    finally:
        # Every other statement this session prepared is gone too: the next tests on this connection
        # (the token's, the queue page's) start from a clean record instead of failing once each.
        connection._prepared_session = None


def test_a_statement_failing_again_and_again_ends_up_unprepared():
    sql = "SELECT 1 / %s -- always fails"
    for _ in range(prepared.RETRIES + 1):
        with pytest.raises(DataError), transaction.atomic():
            _run(sql, [0])
    with CaptureQueriesContext(connection) as ctx, pytest.raises(DataError), transaction.atomic():
        _run(sql, [0])
    assert [q["sql"] for q in ctx.captured_queries if "1 / " in q["sql"]] == ["SELECT 1 / 0 -- always fails"]
    assert _run(sql, [1]) == [(1,)]


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_starts_with_nothing_prepared():
    sql = SQL + " -- new connection"
    _run(sql, [1, "a", 1])
    connection.close()
    with CaptureQueriesContext(connection) as ctx:
        assert _run(sql, [1, "a", 1]) == [(1, 1, "ax")]
    assert ctx.captured_queries[-1]["sql"].startswith("PREPARE")


def _plans(sql) -> tuple[int, int]:
    """(generic, custom) executions of `sql`'s prepared statement in this session."""
    stem = prepared._form(sql)[0]
    with connection.cursor() as cursor:
        query = "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE %s"
        cursor.execute(query, [f"{stem}_%"])
        return cursor.fetchone()


def test_a_look_up_by_key_is_planned_once():
    """Planning is what preparing saves: the token's statement has one plan whatever the key, and after
    PostgreSQL's five custom plans it keeps the generic one."""
    token = _token_sql(Token)
    for _ in range(8):
        _run(token.sql, ["no such key"])
    generic, custom = _plans(token.sql)
    assert custom == 5 and generic == 3
