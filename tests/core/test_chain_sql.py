"""core.chain.content_hash_sql and canonical_object_sql (issue #9): a batch that writes its events in SQL
(disputes.batch, R-T01) hashes them in PostgreSQL. Whatever the fields and the flat data hold, the
hash PostgreSQL computes must be the one Python computes — the one chain_verify checks."""

import datetime as dt

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import chain

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own functions")

# Quotes, backslashes, control characters, CJK, emoji; PostgreSQL's text holds no NUL.
text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**62), max_value=2**62) | text

keys = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True)


def _in_sql(fields: dict, data: dict) -> tuple[str, str]:
    """The canonical JSON of `data` and the event's content hash, both computed by PostgreSQL, every
    value a parameter."""
    names = {key: f"v{i}" for i, key in enumerate(data)}
    types = {str: "text", bool: "boolean", int: "bigint", type(None): "text"}  # a term has a type
    canonical = chain.canonical_object_sql({k: f"%({n})s::{types[type(data[k])]}" for k, n in names.items()})
    digest = chain.content_hash_sql(
        at="%(at)s",
        actor_id="%(actor_id)s::int",
        actor_label="%(actor_label)s",
        action="%(action)s",
        subject_kind="%(subject_kind)s",
        subject_id="%(subject_id)s::bigint",
        from_status="%(from_status)s",
        to_status="%(to_status)s",
        data_json=canonical,
    )
    params = {**fields, "at": chain.canonical_at(fields["at"]), **{names[k]: v for k, v in data.items()}}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {canonical}, {digest}", params)
        return cursor.fetchone()


@pytest.mark.django_db
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    at=st.datetimes(timezones=st.just(dt.UTC), min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(9000, 1, 1)),
    actor_id=st.none() | st.integers(min_value=1, max_value=2**31 - 1),
    actor_label=text,
    action=text,
    subject_kind=text,
    subject_id=st.integers(min_value=1, max_value=2**62),
    from_status=text,
    to_status=text,
    data=st.dictionaries(keys, scalars, max_size=8),
)
def test_postgresql_hashes_an_event_with_flat_data_as_python_does(
    at, actor_id, actor_label, action, subject_kind, subject_id, from_status, to_status, data
):
    fields = {
        "at": at,
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "from_status": from_status,
        "to_status": to_status,
    }
    canonical, digest = _in_sql(fields, data)
    assert canonical == chain.canonical_json(data)
    assert digest == chain.content_hash(**fields, data=data)


@pytest.mark.django_db
def test_the_r_t01_event_shapes_hash_alike():
    at = dt.datetime(2026, 11, 11, 1, 2, 3, 456789, tzinfo=dt.UTC)
    for action, kind, data in [
        (
            "penalty.issued",
            "penalty",
            {
                "code": "r_p01",
                "rule": "R-P01",
                "points": 3,
                "point_class": "A",
                "compensation": "5.00",
                "form": "cash",
                "source": "order:7",
            },
        ),
        ("order.late_shipment", "order", {"rule": "R-T01", "deadline": 9, "penalty": 12, "compensation": "15000"}),
        ("x", "order", {}),
        ("y", "order", {"b": None, "a": True, "a.b": False, "B": "\\\"\n'%s", "c": -(2**40)}),
    ]:
        fields = {
            "at": at,
            "actor_id": None,
            "actor_label": "system",
            "action": action,
            "subject_kind": kind,
            "subject_id": 7,
            "from_status": "paid",
            "to_status": "paid",
        }
        assert _in_sql(fields, data) == (chain.canonical_json(data), chain.content_hash(**fields, data=data))


def test_a_key_that_is_not_plain_is_refused():
    with pytest.raises(ValueError, match="plain"):
        chain.canonical_object_sql({"it's": "1"})
