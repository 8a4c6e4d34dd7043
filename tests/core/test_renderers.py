"""core.api.PlainJSONRenderer answers the bytes DRF's JSONRenderer answers (GET cases/ renders with it)."""

import datetime as dt
import uuid
from collections import OrderedDict
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from core.api import PlainJSONRenderer

SHANGHAI = dt.timezone(dt.timedelta(hours=8))

VALUES = [
    None,
    {},
    [],
    "",
    "".join(chr(i) for i in range(0x80)),  # every control character, quote and backslash
    "杭州小棉袄服饰店 \u2028 \u2029 😀 \ud7ff \ue000 \uffff",
    "“引号” … — \u2027 \u202a",  # encoded from the byte E2 as U+2028 is, none of them escaped
    "only \u2029 here",
    {"count": 10000, "count_capped": True, "next": None, "results": [{"id": 1, "amount": "88.50"}]},
    [0, -1, 2**63 - 1, -(2**63), True, False, None],
    (1, "tuple"),
    OrderedDict([("b", 1), ("a", 2)]),
    ReturnDict({"z": [1], "a": {"n": None}}, serializer=None),
    ReturnList([{"k": "v"}], serializer=None),
    {"lazy": gettext_lazy("Invalid page.")},
    {"when": dt.datetime(2026, 11, 22, 4, 15, 37, 489775, tzinfo=dt.UTC)},
    {"when": dt.datetime(2026, 11, 22, 12, 15, 37, tzinfo=SHANGHAI), "naive": dt.datetime(2026, 1, 1)},
    {"day": dt.date(2026, 11, 22), "time": dt.time(12, 15, 37, 5)},
    {"uuid": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    {"amount": Decimal("88.50")},
    {1: "a key that is not a string"},  # orjson refuses it: JSONRenderer renders it
    {"big": 2**70},  # past 64 bits: the same
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_bytes_are_those_of_the_json_renderer(value):
    assert PlainJSONRenderer().render(value) == JSONRenderer().render(value)


@pytest.mark.parametrize("media_type", ["application/json", "application/json; indent=4", "application/json; indent=0"])
def test_indentation_asked_for_is_the_json_renderer_s(media_type):
    value = {"a": [1, {"b": "中"}], "c": None}
    assert PlainJSONRenderer().render(value, media_type) == JSONRenderer().render(value, media_type)
    context = {"indent": 2}
    assert PlainJSONRenderer().render(value, None, context) == JSONRenderer().render(value, None, context)


def test_an_object_json_cannot_write_fails_as_with_the_json_renderer():
    with pytest.raises(TypeError):
        JSONRenderer().render({"x": object()})
    with pytest.raises(TypeError):
        PlainJSONRenderer().render({"x": object()})
