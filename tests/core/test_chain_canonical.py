"""core.chain.content_hash assembles the canonical JSON field by field (issue #9: a batch serialises an
event's data once for both the hash and the row). Whatever the fields hold, the text hashed must stay
exactly the canonical JSON of the whole payload that every stored hash was made from."""

import datetime as dt
import hashlib
import json

from django.db import models
from hypothesis import given, settings
from hypothesis import strategies as st

from core import chain


def reference_hash(**fields) -> str:
    """The definition the stored chain was written with: sha256 of json.dumps(payload, sorted, compact)."""
    payload = {**fields, "at": chain.canonical_at(fields["at"])}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


text = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)  # quotes, backslashes, controls, CJK, emoji
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    at=st.datetimes(timezones=st.just(dt.UTC)),
    actor_id=st.none() | st.integers(min_value=1, max_value=2**62),
    actor_label=text,
    action=text,
    subject_kind=text,
    subject_id=st.integers(min_value=1, max_value=2**62),
    from_status=text,
    to_status=text,
    data=st.dictionaries(text, json_values, max_size=4),
)
def test_content_hash_is_the_hash_of_the_whole_payloads_canonical_json(**fields):
    expected = reference_hash(**fields)
    assert chain.content_hash(**fields) == expected
    # A caller passing the data's canonical JSON gets the same hash.
    assert chain.content_hash(**fields, data_json=chain.canonical_json(fields["data"])) == expected


def test_a_status_given_as_a_choices_member_hashes_as_its_value():
    class Status(models.TextChoices):
        OPEN = "open", "开"

    fields = dict(
        at=dt.datetime(2026, 11, 11, 0, 0, 0, 123, tzinfo=dt.UTC),
        actor_id=None,
        actor_label="system",
        action="x.opened",
        subject_kind="order",
        subject_id=7,
        from_status="",
        data={"note": '引号 " 与 \\ 反斜杠\n'},
    )
    assert chain.content_hash(**fields, to_status=Status.OPEN) == reference_hash(**fields, to_status="open")
