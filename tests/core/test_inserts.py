"""core.inserts: `insert` writes the rows bulk_create writes, in one statement written once; `Writes` sends
several such writes (an audit event with its chain head among them) as one statement; `insert_rows`
writes a batch's rows through COPY as given."""

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, connection, models, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext_lazy

from core import chain, inserts
from core.inserts import Writes, insert, insert_rows, next_key_sql
from core.models import Event, Notification
from core.services import event_record, notify
from disputes.engine import deadlines_schedule
from disputes.models import Deadline, Refund
from tests.disputes.helpers import T0, make_order
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _deadlines() -> list[Deadline]:
    base = dict(subject_kind="refund", subject_id=7, started_at=T0, duration_amount=3, duration_unit="days")
    return [
        Deadline(rule="R-T04", kind="r_t04_seller_answer", due_at=T0 + dt.timedelta(days=3), **base),
        Deadline(
            rule="R-T08",
            kind="r_t08_reminder",
            due_at=T0,
            paused_at=T0,
            remaining=dt.timedelta(hours=22, microseconds=5),
            note="暂停 'quoted' %s",
            **base,
        ),
        Deadline(rule="R-T09", kind="x", status="fired", due_at=T0, fired_at=T0, fired_by="sweep", **base),
    ]


def _columns(obj) -> dict:
    row = {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields if not f.primary_key}
    return json.loads(json.dumps(row, default=str))


@pytest.mark.parametrize(
    "make",
    [
        _deadlines,
        lambda: [Notification(user_id=None, kind="k", title="标题", body="b", subject_kind="refund", subject_id=3)],
        lambda: [Notification(user_id=None, kind="k", title=f"t{i}", created_at=T0) for i in range(4)],
        lambda: [Event(action="x", subject_kind="t", subject_id=1, data={"a": [1, "二", None]}, at=T0)],
    ],
)
def test_insert_writes_what_bulk_create_writes(cast, make):
    with time_machine.travel(T0, tick=False):  # the same defaults (created_at) on both
        objs, refs = make(), make()
    for obj in [*objs, *refs]:
        if isinstance(obj, Notification):
            obj.user_id = cast.buyer.pk
    with CaptureQueriesContext(connection) as ctx:
        written = insert(objs)
    assert written == objs and all(o.pk is not None and not o._state.adding for o in objs)
    Model = type(objs[0])
    Model.objects.bulk_create(refs)
    if connection.vendor == "postgresql":
        assert len(ctx.captured_queries) == 1 and "UNNEST" not in ctx.captured_queries[0]["sql"]
    by_pk = {o.pk: o for o in Model.objects.filter(pk__in=[o.pk for o in [*objs, *refs]])}
    for obj, ref in zip(objs, refs, strict=True):  # each key on its own row, the rows as bulk_create's
        assert _columns(by_pk[obj.pk]) == _columns(by_pk[ref.pk])
        assert model_to_dict(obj, exclude=["id"]) == model_to_dict(ref, exclude=["id"])


def test_insert_prepares_values_as_the_orm_does(cast):
    """auto_now and defaults (pre_save), decimals quantized (get_db_prep_save), foreign keys from
    their instances."""
    order = make_order(cast, "received")
    fields = dict(order=order, shop=cast.shop, buyer=cast.buyer, created_by=cast.buyer, kind="refund_only")
    fields |= dict(reason="damaged", stage="received", status="closed", amount=Decimal("12.3"))
    (refund,) = insert([Refund(**fields)])
    ref = Refund.objects.create(**fields)
    assert refund.updated_at is not None and refund.order_id == order.pk
    read, read_ref = Refund.objects.get(pk=refund.pk), Refund.objects.get(pk=ref.pk)
    assert read.amount == Decimal("12.30") and read.refunded_amount == Decimal("0.00")
    assert model_to_dict(read, exclude=["id", "updated_at", "created_at"]) == model_to_dict(
        read_ref, exclude=["id", "updated_at", "created_at"]
    )


def _orm_params(objs) -> list:
    """The parameters as the ORM prepares them: every value through pre_save and get_db_prep_save."""
    fields = [f for f, _, _ in inserts._statement(type(objs[0]), len(objs), objs[0].pk is not None)[1]]
    return [f.get_db_prep_save(f.pre_save(o, True), connection) for o in objs for f in fields]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the written-out INSERT is PostgreSQL's")
def test_plain_values_go_as_they_are_and_the_rest_as_the_orm_prepares_them(cast):
    """Values of a field's plain type are taken as they are, any other value through the field: a
    lazy string, a number given as text, an int for a bool, a decimal, a timestamp, JSON."""
    with time_machine.travel(T0, tick=False):  # the same auto_now on both preparations
        objs = [
            Notification(user_id=cast.buyer.pk, kind=gettext_lazy("refund"), title="标题 %s", subject_id="7"),
            Notification(user=cast.seller, kind="k", title="t", body="", subject_kind="refund", subject_id=None),
        ]
        refund = _refund(cast, express=1, refusal_count="2", description=gettext_lazy("refund"))
        event = Event(action="x", subject_kind="t", subject_id=1, data={"a": [1, "二", None]}, at=T0)
        for batch in (objs, [refund], [event], _deadlines()):
            _, params = inserts._insert_statement(batch)
            expected = _orm_params(batch)
            assert [type(p) for p in params] == [type(p) for p in expected]
            assert [str(p) for p in params] == [str(p) for p in expected]  # Jsonb compares by identity
    assert params and objs[1].user_id == cast.seller.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the written-out INSERT is PostgreSQL's")
def test_only_djangos_own_fields_that_send_values_unchanged_are_plain():
    plain = {f.name: inserts._plain(f) for f in Refund._meta.concrete_fields}
    assert plain["id"] is int and plain["order"] is int and plain["kind"] is str and plain["express"] is bool
    assert plain["amount"] is None and plain["created_at"] is None and plain["updated_at"] is None  # auto_now

    class Shouting(models.CharField):  # a subclass may change values: never plain
        def get_prep_value(self, value):
            return super().get_prep_value(value).upper()

    shouting = Shouting(max_length=5)
    shouting.set_attributes_from_name("shouting")
    assert inserts._plain(shouting) is None
    assert inserts._plain(Event._meta.get_field("data")) is None


def test_instances_with_their_own_keys_are_written_with_them(cast):
    objs = [Notification(pk=10_000 + i, user_id=cast.buyer.pk, kind="k", title="t") for i in range(2)]
    with CaptureQueriesContext(connection) as ctx:
        assert insert(objs) == objs
    assert Notification.objects.filter(pk__in=[10_000, 10_001]).count() == 2
    if connection.vendor == "postgresql":
        assert len(ctx.captured_queries) == 1 and '"id"' in ctx.captured_queries[0]["sql"].split("VALUES")[0]
    assert insert([]) == []


def _drawn(model) -> int:
    """A key drawn from the model's sequence, as refund_file draws the new refund's."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {next_key_sql(model)}")
        return cursor.fetchone()[0]


def _refund(cast, **extra) -> Refund:
    order = make_order(cast, "received")
    return Refund(
        order=order,
        shop=cast.shop,
        buyer=cast.buyer,
        created_by=cast.buyer,
        kind="refund_only",
        reason="damaged",
        stage="received",
        amount=Decimal("12.30"),
        **extra,
    )


def test_writes_sends_its_parts_as_one_statement(cast):
    """A refund with its drawn key, two clocks, its audit event (with the chain head) and two
    notifications: one statement on PostgreSQL, every row written with the keys and hashes the
    instances are given, the chain whole."""
    if connection.vendor != "postgresql":
        pytest.skip("elsewhere each write is its own statement")
    refund = _refund(cast, pk=_drawn(Refund))
    event_record(subject=refund, action="refund.before")  # the chain has a head already: it advances
    with CaptureQueriesContext(connection) as ctx, Writes() as writes:
        writes.insert([refund])
        clocks = deadlines_schedule(subject=refund, rule_ids=["R-T04", "R-T09"], start=T0, writes=writes)
        event = event_record(subject=refund, action="refund.filed", actor=cast.buyer, data={"名": 1}, writes=writes)
        sent = notify(user_ids=[cast.seller.pk, cast.agent.pk], kind="k", title="标题", subject=refund, writes=writes)
        assert event.pk is None and all(c.pk is None for c in clocks)  # nothing ran yet
        assert not ctx.captured_queries
    assert len(ctx.captured_queries) == 1
    assert Refund.objects.get(pk=refund.pk).amount == Decimal("12.30")
    stored = {d.pk: d for d in Deadline.objects.filter(subject_kind="refund", subject_id=refund.pk)}
    assert sorted(stored) == sorted(c.pk for c in clocks)
    assert [stored[c.pk].rule for c in clocks] == ["R-T04", "R-T09"]  # each key on its own row
    assert {n.pk: n.user_id for n in sent} == dict(
        Notification.objects.filter(subject_kind="refund", subject_id=refund.pk).values_list("id", "user_id")
    )
    row = Event.objects.get(pk=event.pk)
    assert (row.seq, row.prev_hash, row.hash, row.action) == (2, event.prev_hash, event.hash, "refund.filed")
    assert event.seq == 2 and not event._state.adding
    assert chain.chain_verify(subject_kind="refund", subject_id=refund.pk) is None


def test_an_error_in_any_part_writes_nothing(cast):
    refund = _refund(cast, pk=_drawn(Refund) if connection.vendor == "postgresql" else None)
    (taken,) = insert([Notification(user_id=cast.buyer.pk, kind="k", title="taken")])
    before = (Notification.objects.count(), Deadline.objects.count(), Event.objects.count())
    with pytest.raises(IntegrityError), transaction.atomic():
        with Writes() as writes:
            writes.insert([refund])
            event_record(subject=refund, action="refund.filed", writes=writes)
            deadlines_schedule(subject=refund, rule_ids=["R-T04"], start=T0, writes=writes)
            notify(user_ids=[cast.seller.pk], kind="k", title="t", subject=refund, writes=writes)
            writes.insert([Notification(pk=taken.pk, user_id=cast.seller.pk, kind="k", title="a key taken")])
    assert (Notification.objects.count(), Deadline.objects.count(), Event.objects.count()) == before
    assert not Refund.objects.filter(order=refund.order).exists()


def test_one_statement_advances_a_subject_chain_once(cast):
    """The parts share one snapshot: a second event on the same subject would not see the first's
    head, so it is refused before anything runs."""
    if connection.vendor != "postgresql":
        pytest.skip("nothing is queued elsewhere")
    refund = _refund(cast)
    insert([refund])
    writes = Writes()
    event_record(subject=refund, action="refund.a", writes=writes)
    with pytest.raises(ValueError, match="written twice in one statement"):
        event_record(subject=refund, action="refund.b", writes=writes)
    event_record(subject=cast.shop, action="shop.a", writes=writes)  # another subject's chain: fine
    writes.run()
    assert list(Event.objects.filter(subject_kind="refund", subject_id=refund.pk).values_list("action", "seq")) == [
        ("refund.a", 1)
    ]
    assert chain.chain_verify(subject_kind="shop", subject_id=cast.shop.pk) is None


def test_insert_rows_writes_every_value_as_given_through_copy():
    """core.inserts.insert_rows (COPY): tabs, newlines, backslashes, a literal \\N, unicode, None,
    JSON and timestamps arrive unchanged, with ids in the order of the rows."""
    user = UserFactory()
    at = dt.datetime(2026, 11, 11, 0, 0, 0, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
    tricky = ["tab\there", "line\nbreak\r\n", "back\\slash", "\\N", "", "退款 ✓ 'quote' \"dq\""]
    ids = insert_rows(
        Notification,
        [
            {"user_id": user.pk, "kind": "k", "title": t, "body": t[::-1], "subject_kind": "", "created_at": at}
            for t in tricky
        ]
        + [{"user_id": user.pk, "kind": "k", "title": "none", "body": "", "subject_id": None, "read_at": None}],
    )
    got = {n.pk: n for n in Notification.objects.filter(pk__in=ids)}
    assert [got[pk].title for pk in ids] == [*tricky, "none"]
    assert [got[pk].body for pk in ids[:-1]] == [t[::-1] for t in tricky]
    assert {got[pk].created_at for pk in ids[:-1]} == {at}
    assert (got[ids[-1]].subject_id, got[ids[-1]].read_at) == (None, None)
    assert ids == sorted(ids)

    data = {"text": "a\tb\nc\\d \\N 退款", "n": 3, "none": None, "list": [1, "x"], "nested": {"k": "v"}}
    (event_id,) = insert_rows(
        Event, [{"at": at, "action": "x.y", "subject_kind": "order", "subject_id": 1, "data": data, "seq": None}]
    )
    assert Event.objects.get(pk=event_id).data == data


def test_insert_select_writes_the_named_expressions_and_every_other_column_its_default():
    """core.inserts.insert_select_sql (disputes.batch's R-T01 statement): a column not named is written
    as bulk_create would write it, its field's default; one without a default must be named."""
    from core.inserts import insert_select_sql
    from penalties.models import LedgerMovement

    user = UserFactory()
    sql = insert_select_sql(
        Notification,
        {"user_id": "v.u", "kind": "'k'", "title": "v.t", "created_at": "now()"},
        "FROM unnest(%s::int[], %s::text[]) AS v(u, t)",
        returning="id",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [[user.pk, user.pk], ["一", "it's"]])
        ids = [pk for (pk,) in cursor.fetchall()]
    rows = Notification.objects.filter(pk__in=ids).order_by("pk")
    assert [(n.title, n.body, n.subject_kind, n.subject_id, n.read_at) for n in rows] == [
        ("一", "", "", None, None),
        ("it's", "", "", None, None),
    ]
    with pytest.raises(ValueError, match="has no default"):
        insert_select_sql(LedgerMovement, {"at": "now()"}, "")  # debit, credit, amount, reason unnamed
    with pytest.raises(ValueError, match="no column"):
        insert_select_sql(Notification, {"user": "1"}, "")
    with pytest.raises(ValueError, match="not a plain value"):
        insert_select_sql(Notification, {"user_id": "1", "kind": "''", "title": "''"}, "")  # created_at: now


@pytest.mark.parametrize(
    "values,sql_type",
    [
        ([1, -2, 2**62, None], "bigint"),
        (['a"b', "c\\d", "", "NULL", "{x,y}", "it's", " sp ", "line\nbreak\ttab", "退款 ✓", None, "\\N"], "text"),
        ([], "text"),
    ],
)
def test_array_literal_arrives_as_the_values_given(values, sql_type):
    """core.inserts.array_literal (the R-T01 batch's columns): every value back unchanged."""
    from core.inserts import array_literal

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{sql_type}[]", [array_literal(values)])
        assert cursor.fetchone()[0] == values


def test_a_default_written_as_a_literal_arrives_as_it_is():
    """insert_select_sql's defaults are literals in a statement run with parameters: quotes and % kept."""
    from django.db import models

    from core.inserts import _default_literal

    literal = _default_literal(models.CharField(default="50% 'off' \\ %s"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {literal}, %s", [1])
        assert cursor.fetchone() == ("50% 'off' \\ %s", 1)
