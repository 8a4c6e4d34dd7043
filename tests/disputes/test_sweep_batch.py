"""Set-based sweeping (issue #9): R-T01 fired in batches leaves exactly the rows the per-row path
leaves, exactly once under concurrent sweepers, and a bad row falls back without blocking the rest."""

import datetime as dt
import threading
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import chain, rulebook
from core.models import Event, Notification
from core.services import event_record
from disputes import engine
from disputes.models import Deadline, Refund
from orders.models import Order, Shop
from penalties.models import LedgerEntry, LedgerMovement, Penalty, Sanction
from tests.bench.late import late_orders
from tests.disputes.helpers import Holder
from tests.factories import ShopFactory, UserFactory

CHINA = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 11, 9, 0, tzinfo=CHINA)
AMOUNTS = [Decimal("10.00"), Decimal("1000.00"), Decimal("123.45")]  # 3 × 3 points: under R-P11's 12


def _orders_with_due_ship_deadlines(shop, buyers, *, due_at, amounts=AMOUNTS, status="paid") -> list[Deadline]:
    paid_at = due_at - dt.timedelta(hours=72)
    orders = Order.objects.bulk_create(
        [
            Order(
                shop=shop, buyer=buyers[i % len(buyers)], status=status, total_amount=a, paid_at=paid_at, ship_by=due_at
            )
            for i, a in enumerate(amounts)
        ]
    )
    return Deadline.objects.bulk_create(
        [
            Deadline(
                subject_kind="order",
                subject_id=o.pk,
                rule="R-T01",
                kind="r_t01_ship",
                started_at=paid_at,
                due_at=due_at,
                duration_amount=72,
                duration_unit="hours",
            )
            for o in orders
        ]
    )


def _shop(kind="marketplace", staff=1):
    shop = ShopFactory(kind=kind)
    shop.staff.add(*[UserFactory(roles=["seller"]) for _ in range(staff)])
    return shop


def _at_once(*work) -> list:
    """Run each callable in its own thread, all released together, each with its own connection:
    their results, in order. Any error in one fails the caller."""
    barrier = threading.Barrier(len(work))
    results: list = [None] * len(work)
    errors: list[BaseException] = []

    def run(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(work)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def _effects(deadlines: list[Deadline]) -> list[dict]:
    """What firing left behind for each deadline, with ids replaced by their roles."""
    out = []
    for d in deadlines:
        d.refresh_from_db()
        order = Order.objects.get(pk=d.subject_id)
        penalty = Penalty.objects.filter(deadline=d).first()
        ids = {"deadline": d.pk, "penalty": penalty.pk if penalty else None, "source": f"order:{order.pk}"}

        def norm(data, ids=ids):
            return sorted((k, f"<{k}>" if k in ids and v == ids[k] else v) for k, v in data.items())

        outcome = d.outcome.replace(f"penalty {ids['penalty']}", "penalty <penalty>")
        row = {"status": d.status, "fired_by": d.fired_by, "outcome": outcome, "attempts": d.attempts}
        if penalty is not None:
            row["penalty"] = {
                f: str(getattr(penalty, f))
                for f in ("code", "points", "point_class", "compensation_amount", "compensation_form", "source_kind")
            } | {
                "note": penalty.note,
                "status": penalty.status,
                "beneficiary_is_buyer": penalty.beneficiary_id == order.buyer_id,
            }
            accounts = {f"shop:{order.shop_id}": "<shop>", f"buyer:{order.buyer_id}": "<buyer>"}
            row["ledger"] = [
                (
                    accounts[m.debit],
                    accounts[m.credit],
                    str(m.amount),
                    m.currency,
                    m.reason,
                    m.source_kind,
                    m.order_id == order.pk,
                )
                for m in LedgerMovement.objects.filter(penalty=penalty)
            ]
            row["entries"] = sorted(
                (accounts[e.account], str(e.amount), e.currency)
                for e in LedgerEntry.objects.filter(movement__penalty=penalty)
            )
            row["penalty_events"] = [
                (e.action, e.actor_label, e.to_status, norm(e.data), e.seq)
                for e in Event.objects.filter(subject_kind="penalty", subject_id=penalty.pk)
            ]
            assert chain.chain_verify(subject_kind="penalty", subject_id=penalty.pk) is None
            row["sanctions"] = [
                (
                    x.threshold,
                    x.kind,
                    x.days,
                    x.year,
                    x.status,
                    x.starts_at == penalty.issued_at,
                    Deadline.objects.filter(subject_kind="sanction", subject_id=x.pk, status="pending").count(),
                    [
                        (e.action, sorted((k, v) for k, v in e.data.items() if k not in ("penalty", "ends_at")))
                        for e in Event.objects.filter(subject_kind="sanction", subject_id=x.pk)
                    ],
                )
                for x in Sanction.objects.filter(penalty=penalty)
            ]
        row["order_events"] = [
            (e.action, e.actor_label, e.from_status, e.to_status, norm(e.data), e.seq)
            for e in Event.objects.filter(subject_kind="order", subject_id=order.pk)
        ]
        assert chain.chain_verify(subject_kind="order", subject_id=order.pk) is None
        row["notifications"] = sorted(
            (
                n.kind,
                n.title.replace(f"订单 {order.pk} ", "订单 <order> "),
                n.body,
                n.subject_kind,
                n.subject_id == order.pk,
            )
            for n in Notification.objects.filter(subject_kind="order", subject_id=order.pk)
        )
        out.append(row)
    return out


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind,amounts",
    [
        ("marketplace", AMOUNTS),
        ("mall", AMOUNTS),
        # R-P11: 9 × 3 points cross 12 at the 4th and 24 at the 8th.
        ("marketplace", [Decimal("20.00")] * 9),
    ],
)
def test_the_batch_leaves_exactly_the_rows_the_per_row_path_leaves(kind, amounts):
    buyers = [UserFactory(roles=["buyer"]) for _ in range(2)]
    by_row = _orders_with_due_ship_deadlines(_shop(kind), buyers, due_at=T0, amounts=amounts)
    batched = _orders_with_due_ship_deadlines(_shop(kind), buyers, due_at=T0, amounts=amounts)
    # A pre-existing event on one order: the batch continues its chain, as event_record would.
    for d in (by_row[1], batched[1]):
        event_record(subject=Order.objects.get(pk=d.subject_id), action="order.paid", data={"x": 1})
    # An order that shipped in the meantime: a no-op firing on both paths.
    noop = _orders_with_due_ship_deadlines(_shop(kind), buyers, due_at=T0, amounts=[Decimal("5.00")], status="shipped")
    noop_b = _orders_with_due_ship_deadlines(
        _shop(kind), buyers, due_at=T0, amounts=[Decimal("5.00")], status="shipped"
    )

    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        for d in [*by_row, *noop]:
            assert engine.deadline_fire(deadline_id=d.pk) is True
        result = engine.deadlines_fire_batch(rule_id="R-T01", deadline_ids=[d.pk for d in [*batched, *noop_b]])
    assert (result.fired, result.rest) == (len(batched) + 1, [])

    for got, want in zip(_effects(batched), _effects(by_row), strict=True):
        for key in want:
            assert (key, got.get(key)) == (key, want[key])
    assert _effects(noop_b) == _effects(noop)
    assert "noop: order is shipped" in Deadline.objects.get(pk=noop_b[0].pk).outcome


@pytest.mark.django_db
def test_a_shop_crossing_a_sanction_threshold_goes_row_by_row_and_the_crossing_penalty_carries_it():
    """R-P11: 5 late shipments × 3 points cross 12 at the 4th; that shop's rows go through the reference action."""
    shop = _shop()
    other = _shop()
    buyers = [UserFactory(roles=["buyer"])]
    crossing = _orders_with_due_ship_deadlines(shop, buyers, due_at=T0, amounts=[Decimal("50.00")] * 5)
    calm = _orders_with_due_ship_deadlines(other, buyers, due_at=T0, amounts=[Decimal("50.00")] * 2)

    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        result = engine.deadlines_fire_batch(rule_id="R-T01", deadline_ids=[d.pk for d in [*crossing, *calm]])
        assert (result.fired, result.rest) == (7, [])

    sanction = Sanction.objects.get(shop=shop)
    assert (sanction.threshold, sanction.penalty.deadline_id) == (12, crossing[3].pk)
    assert not Sanction.objects.filter(shop=other).exists()
    assert Deadline.objects.filter(id__in=[d.pk for d in [*crossing, *calm]], status="fired").count() == 7


@pytest.mark.django_db
def test_a_failing_row_fails_the_batch_whole_then_the_rest_fire_row_by_row_and_it_is_retried():
    shop = _shop()
    deadlines = _orders_with_due_ship_deadlines(shop, [UserFactory(roles=["buyer"])], due_at=T0)
    broken = deadlines[2]
    blocker = Penalty.objects.create(
        shop=shop, code="r_p06", points=0, source_kind="order", source_id=broken.subject_id, deadline=broken
    )
    ids = [d.pk for d in deadlines]

    with time_machine.travel(T0 + dt.timedelta(seconds=1), tick=False):
        # The batch alone: rolled back whole, every row handed back.
        result = engine.deadlines_fire_batch(rule_id="R-T01", deadline_ids=ids)
        assert (result.fired, sorted(result.rest)) == (0, sorted(ids))
        assert Penalty.objects.filter(code="r_p01").count() == 0
        assert Event.objects.filter(action="order.late_shipment").count() == 0
        # The sweep: the good rows fire row by row, the bad one records its error and backs off.
        assert engine.enforce_deadlines() == len(ids) - 1
    broken.refresh_from_db()
    assert (broken.status, broken.attempts) == ("pending", 1)
    assert "unique" in broken.last_error.lower() or "penalty" in broken.last_error.lower()

    blocker.delete()
    with time_machine.travel(broken.not_before + dt.timedelta(seconds=1), tick=False):
        assert engine.enforce_deadlines() == 1
    assert Penalty.objects.filter(deadline_id__in=ids, code="r_p01").count() == len(ids)


@pytest.mark.django_db
def test_a_row_no_longer_pending_or_paused_is_left_alone_and_a_vanished_subject_cancels():
    shop = _shop()
    deadlines = _orders_with_due_ship_deadlines(
        shop, [UserFactory(roles=["buyer"])], due_at=T0, amounts=[Decimal("50.00")] * 4
    )
    Deadline.objects.filter(pk=deadlines[0].pk).update(status="cancelled")
    Deadline.objects.filter(pk=deadlines[1].pk).update(paused_at=T0)
    Deadline.objects.filter(pk=deadlines[2].pk).update(subject_id=10**12)
    with time_machine.travel(T0 + dt.timedelta(seconds=1), tick=False):
        result = engine.deadlines_fire_batch(rule_id="R-T01", deadline_ids=[d.pk for d in deadlines])
    assert (result.fired, result.rest) == (1, [])
    statuses = dict(Deadline.objects.filter(id__in=[d.pk for d in deadlines]).values_list("id", "status"))
    assert [statuses[d.pk] for d in deadlines] == ["cancelled", "pending", "cancelled", "fired"]
    assert Penalty.objects.count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_batch_sweepers_and_a_per_row_firer_fire_each_of_1200_deadlines_exactly_once():
    assert connection.vendor == "postgresql", "concurrency is only meaningful on PostgreSQL"
    buyers = [UserFactory(roles=["buyer"]) for _ in range(5)]
    due = T0
    ids = []
    for i in range(12):  # 12 shops, 100 late orders each, mall ones too (no points, no sanctions)
        shop = _shop("mall" if i % 3 == 0 else "marketplace")
        ids += [
            d.pk for d in _orders_with_due_ship_deadlines(shop, buyers, due_at=due, amounts=[Decimal("80.00")] * 100)
        ]

    def sweeper():
        return engine.enforce_deadlines(now=due + dt.timedelta(seconds=1), batch_size=150)

    def per_row():  # the API path (order_ship firing R-T01 late) meets the sweep: the status guard decides
        return sum(engine.deadline_fire(deadline_id=pk, by="order.ship") for pk in reversed(ids[::7]))

    fired = _at_once(sweeper, sweeper, per_row)
    assert sum(fired) == len(ids)
    assert Deadline.objects.filter(id__in=ids, status="fired").count() == len(ids)
    assert Penalty.objects.filter(deadline_id__in=ids).count() == len(ids)
    assert not Event.objects.values("subject_kind", "subject_id", "action").annotate(n=Count("id")).filter(n__gt=1)
    assert Event.objects.filter(action="order.late_shipment").count() == len(ids)
    assert LedgerEntry.objects.aggregate(s=Sum("amount"))["s"] == 0
    assert Notification.objects.filter(kind="order.late_shipment").count() == 3 * len(ids)  # buyer, owner, staff
    # R-P11 once per threshold per shop, whichever path crossed it.
    per = Sanction.objects.values("shop", "threshold").annotate(n=Count("id"))
    assert per and all(row["n"] == 1 for row in per)
    for order_id in Order.objects.filter(
        pk__in=Deadline.objects.filter(id__in=ids[:50]).values("subject_id")
    ).values_list("pk", flat=True):
        assert chain.chain_verify(subject_kind="order", subject_id=order_id) is None


def _shop_holder(shop) -> Holder:
    """Another transaction holding a shop's row lock (an arbitrator's penalty, another sweeper)."""
    return Holder(lambda: list(Shop.objects.select_for_update().filter(pk=shop.pk)))


@pytest.mark.django_db(transaction=True)
def test_rows_whose_shop_another_transaction_holds_are_deferred_not_waited_for():
    held_shop, free_shop = _shop(), _shop()
    buyers = [UserFactory(roles=["buyer"])]
    due = timezone.now() - dt.timedelta(seconds=1)
    held = _orders_with_due_ship_deadlines(held_shop, buyers, due_at=due, amounts=[Decimal("50.00")] * 2)
    free = _orders_with_due_ship_deadlines(free_shop, buyers, due_at=due, amounts=[Decimal("50.00")] * 2)

    with _shop_holder(held_shop):
        result = engine.deadlines_sweep_batch(now=timezone.now())
        assert (result.claimed, result.fired, result.deferred, result.failed) == (4, 2, 2, 0)
        rows = {d.pk: d for d in Deadline.objects.filter(id__in=[d.pk for d in [*held, *free]])}
        assert {rows[d.pk].status for d in free} == {"fired"}
        # Deferred: still pending, lease released so the next claim takes them at once, no error.
        assert [(rows[d.pk].status, rows[d.pk].not_before, rows[d.pk].attempts) for d in held] == [
            ("pending", None, 0)
        ] * 2
        assert not Penalty.objects.filter(shop=held_shop).exists()

    assert engine.enforce_deadlines() == 2
    assert Penalty.objects.filter(shop=held_shop, code="r_p01").count() == 2


@pytest.mark.django_db
def test_a_shop_holding_every_threshold_earns_no_more_and_a_lifted_one_is_earned_again():
    """R-P11 in a batch: a shop past 48 points with every sanction of the year imposed gets none new;
    the same shop with its 48-point sanction lifted (R-P12) earns it again at its next penalty."""
    from penalties.services import sanctions_check

    buyers = [UserFactory(roles=["buyer"])]
    full, lifted = _shop(), _shop()
    with time_machine.travel(T0 - dt.timedelta(days=1), tick=False):
        for shop in (full, lifted):
            penalty = Penalty.objects.create(
                shop=shop, code="r_p06", points=48, point_class="A", source_kind="shop", source_id=shop.pk
            )
            assert [s.threshold for s in sanctions_check(shop=shop, penalty=penalty)] == [12, 24, 36, 48]
    Sanction.objects.filter(shop=lifted, threshold=48).update(status="lifted")
    deadlines = [
        *_orders_with_due_ship_deadlines(full, buyers, due_at=T0, amounts=[Decimal("50.00")] * 2),
        *_orders_with_due_ship_deadlines(lifted, buyers, due_at=T0, amounts=[Decimal("50.00")] * 2),
    ]
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        result = engine.deadlines_fire_batch(rule_id="R-T01", deadline_ids=[d.pk for d in deadlines])
    assert (result.fired, result.rest) == (4, [])
    assert Sanction.objects.filter(shop=full).count() == 4
    again = Sanction.objects.get(shop=lifted, threshold=48, status="active")
    assert again.penalty.deadline_id == deadlines[2].pk  # the lifted shop's first late shipment: 51 points


@pytest.mark.django_db
@pytest.mark.parametrize("resets", [["A", "B"], []])
def test_r_p11_reads_of_a_batch_count_the_points_and_sanctions_as_the_selectors_do(settings, resets):
    """The batch's written-out R-P11 reads (disputes.batch) against penalties.selectors.shop_points and
    the ORM: active penalties of the year only where the class resets (R-P10), all up to the year's
    end where it does not; revoked ones, other classes, other shops and lifted sanctions left out."""
    from disputes.batch import _imposed_thresholds, _points_by_shop
    from penalties.selectors import shop_points

    settings.RULEBOOK_DECISIONS = {**getattr(settings, "RULEBOOK_DECISIONS", {}), "R-P10.yearly_reset_classes": resets}
    shops = [_shop(), _shop(), _shop()]
    for days_ago, shop, points, point_class, status in [
        (400, shops[0], 5, "A", "active"),  # last year
        (10, shops[0], 3, "A", "active"),
        (5, shops[0], 2, "A", "revoked"),
        (3, shops[0], 7, "B", "active"),
        (2, shops[1], 4, "A", "active"),
        (800, shops[1], 6, "A", "active"),
    ]:
        with time_machine.travel(T0 - dt.timedelta(days=days_ago), tick=False):
            Penalty.objects.create(
                shop=shop,
                code="r_p06",
                points=points,
                point_class=point_class,
                status=status,
                source_kind="shop",
                source_id=shop.pk,
            )
    for shop, point_class, threshold, status in [
        (shops[0], "A", 12, "active"),
        (shops[0], "A", 24, "lifted"),
        (shops[1], "B", 12, "active"),
    ]:
        Sanction.objects.create(
            shop=shop,
            point_class=point_class,
            threshold=threshold,
            year=T0.year,
            kind="warning",
            status=status,
            starts_at=T0,
            penalty=Penalty.objects.filter(shop=shop).first(),
        )
    ids = [shop.pk for shop in shops]
    for point_class in ("A", "B"):
        read = dict(_points_by_shop(ids, point_class=point_class, year=T0.year))
        expected = {s.pk: shop_points(shop=s, point_class=point_class, year=T0.year) for s in shops}
        assert {pk: read.get(pk, 0) for pk in ids} == expected
    assert dict(_points_by_shop(ids, point_class="A", year=T0.year))[shops[0].pk] == (3 if resets else 8)
    assert sorted(_imposed_thresholds(ids, point_class="A", year=T0.year)) == [(shops[0].pk, 12)]
    assert sorted(_imposed_thresholds(ids, point_class="B", year=T0.year)) == [(shops[1].pk, 12)]


@pytest.mark.django_db
def test_a_batch_locks_its_rows_as_instances_holding_the_named_fields_and_loading_the_rest_on_read():
    """engine._lock_instances builds the locked rows without Model.__init__: they must behave as rows
    loaded with .only() — the named fields read without a query, any other one loaded when read,
    saved as existing rows."""
    shop = _shop()
    deadlines = _orders_with_due_ship_deadlines(shop, [UserFactory(roles=["buyer"])], due_at=T0)
    orders = sorted(Order.objects.filter(pk__in=[d.subject_id for d in deadlines]), key=lambda o: o.pk)
    with transaction.atomic():
        locked = engine._lock_instances(Order, [o.pk for o in reversed(orders)], ("status", "shop", "total_amount"))
        assert [o.pk for o in locked] == [o.pk for o in orders]  # ascending, whatever the order asked
        first = locked[0]
        assert first._state.adding is False and first._state.db == "default"
        with CaptureQueriesContext(connection) as read:
            assert (first.status, first.shop_id, first.total_amount) == ("paid", shop.pk, orders[0].total_amount)
        assert len(read) == 0
        with CaptureQueriesContext(connection) as read:
            assert first.buyer_id == orders[0].buyer_id  # not named: one query, as a deferred field
        assert len(read) == 1
        first.shipping_address = "read back"
        first.save(update_fields=["shipping_address"])
        assert Order.objects.get(pk=first.pk).shipping_address == "read back"


# --- R-T16: auto-confirm, the peak day's most frequent firing ---------------------------------------


R_T16 = rulebook.timer("R-T16")


def _shipped_orders_with_due_confirm_deadlines(shop, buyers, *, due_at, statuses) -> list[Deadline]:
    """One order per status in `statuses` with an R-T16 clock due at `due_at`."""
    orders, deadlines = late_orders(
        [(shop, Decimal("30.00"))] * len(statuses), buyers, rule="R-T16", kind=R_T16.kind, due_at=due_at
    )
    for order, status in zip(orders, statuses, strict=True):
        order.status = status
    Order.objects.bulk_update(orders, ["status"])
    return deadlines


def _confirm_effects(deadlines: list[Deadline]) -> list[dict]:
    """What an R-T16 firing left behind for each deadline's order, ids replaced by their roles."""
    out = []
    for d in deadlines:
        d.refresh_from_db()
        order = Order.objects.get(pk=d.subject_id)
        clocks = Deadline.objects.filter(subject_kind="order", subject_id=order.pk).order_by("pk")
        assert chain.chain_verify(subject_kind="order", subject_id=order.pk) is None
        people = {order.buyer_id: "<buyer>", order.shop.owner_id: "<owner>"}
        out.append(
            {
                "status": order.status,
                "completed": order.completed_at is not None,
                "clocks": [
                    (c.status, c.fired_by, c.outcome, c.cancel_reason, c.not_before, c.pk == d.pk) for c in clocks
                ],
                "events": [
                    (
                        e.action,
                        e.actor_label,
                        e.actor_id,
                        e.from_status,
                        e.to_status,
                        sorted((k, "<deadline>" if k == "deadline" and v == d.pk else v) for k, v in e.data.items()),
                        e.seq,
                    )
                    for e in Event.objects.filter(subject_kind="order", subject_id=order.pk).order_by("seq")
                ],
                "notifications": sorted(
                    (people[n.user_id], n.kind, n.title.replace(f"订单 {order.pk} ", "订单 <order> "), n.body)
                    for n in Notification.objects.filter(subject_kind="order", subject_id=order.pk)
                ),
            }
        )
    return out


@pytest.mark.django_db
def test_the_auto_confirm_batch_leaves_exactly_the_rows_the_per_row_path_leaves():
    buyers = [UserFactory(roles=["buyer"]) for _ in range(2)]
    statuses = ["shipped", "delivered", "shipped", "completed", "refunded"]
    sides = []
    for _ in range(2):
        shop = _shop(staff=1)
        deadlines = _shipped_orders_with_due_confirm_deadlines(shop, buyers, due_at=T0, statuses=statuses)
        order = Order.objects.get(pk=deadlines[2].subject_id)
        # A pre-existing event: the chain goes on from it. A second auto-confirm clock on that order (an
        # extension's): the firing of the first cancels it, whichever path fires.
        event_record(subject=order, action="order.shipped", data={"x": 1})
        Deadline.objects.create(
            subject_kind="order",
            subject_id=order.pk,
            rule="R-T16",
            kind=R_T16.kind,
            started_at=T0 - dt.timedelta(days=10),
            due_at=T0 + dt.timedelta(days=3),
            duration_amount=13,
            duration_unit="days",
        )
        sides.append(deadlines)
    by_row, batched = sides

    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        for d in by_row:
            assert engine.deadline_fire(deadline_id=d.pk) is True
        with CaptureQueriesContext(connection) as ctx:
            result = engine.deadlines_fire_batch(rule_id="R-T16", deadline_ids=[d.pk for d in batched])
    assert (result.fired, result.rest) == (len(batched), [])
    assert len(ctx.captured_queries) <= 8  # heads, locks, one statement, the mark (and the transaction's SET)

    got, want = _confirm_effects(batched), _confirm_effects(by_row)
    assert [c[0] for c in got[2]["clocks"]] == ["fired", "cancelled"]  # the extension's clock too
    assert want[2]["clocks"][0][:4] == ("fired", "sweep", "completed", "")  # fired, so never cancelled
    assert [row["status"] for row in got] == ["completed", "completed", "completed", "completed", "refunded"]
    for g, w in zip(got, want, strict=True):
        for key in w:
            assert (key, g[key]) == (key, w[key])
    assert Notification.objects.filter(kind="order.completed").count() == 2 * 2 * 3  # buyer and owner, 3 each


@pytest.mark.django_db
def test_the_sweep_confirms_a_thousand_orders_in_batches_each_once():
    shop = _shop()
    buyers = [UserFactory(roles=["buyer"]) for _ in range(3)]
    deadlines = _shipped_orders_with_due_confirm_deadlines(shop, buyers, due_at=T0, statuses=["shipped"] * 1000)
    with time_machine.travel(T0 + dt.timedelta(seconds=1), tick=False):
        with CaptureQueriesContext(connection) as ctx:
            assert engine.enforce_deadlines(batch_size=500) == 1000
    assert len(ctx.captured_queries) <= 25
    ids = [d.subject_id for d in deadlines]
    assert Order.objects.filter(pk__in=ids, status="completed").count() == 1000
    assert Event.objects.filter(action="order.auto_confirmed", subject_id__in=ids).count() == 1000
    assert all(chain.chain_verify(subject_kind="order", subject_id=pk) is None for pk in ids[::97])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_sweepers_and_buyers_confirming_at_once_complete_each_order_exactly_once():
    """R-T16 batches against each other and against buyers confirming receipt (the order's lock decides):
    every order completes once, with one completion event on a chain that verifies, and every clock
    ends fired or cancelled, never both, never pending."""
    from core.errors import InvalidTransition
    from orders.services import order_confirm_receipt

    assert connection.vendor == "postgresql", "concurrency is only meaningful on PostgreSQL"
    buyers = [UserFactory(roles=["buyer"]) for _ in range(5)]
    deadlines = []
    for _ in range(6):
        deadlines += _shipped_orders_with_due_confirm_deadlines(
            _shop(), buyers, due_at=T0, statuses=["shipped"] * 100 + ["delivered"] * 100
        )
    ids = [d.subject_id for d in deadlines]
    confirmed: list[int] = []

    def sweeper():
        return engine.enforce_deadlines(now=T0 + dt.timedelta(seconds=1), batch_size=150)

    def buyer():  # the buyers of every fifth order confirm receipt meanwhile, from the last (the sweep's first)
        for order in Order.objects.filter(pk__in=ids[::5]).select_related("buyer").order_by("-pk"):
            try:
                order_confirm_receipt(order=order, actor=order.buyer)
                confirmed.append(order.pk)
            except InvalidTransition:  # the sweep completed it first
                pass

    fired = _at_once(sweeper, sweeper, buyer)[:2]
    assert confirmed, "no buyer confirmed while the sweepers ran"
    assert Order.objects.filter(pk__in=ids, status="completed").count() == len(ids)
    completions = Event.objects.filter(
        subject_kind="order", subject_id__in=ids, action__in=["order.auto_confirmed", "order.receipt_confirmed"]
    )
    assert completions.count() == len(ids)
    assert completions.filter(action="order.receipt_confirmed").count() == len(confirmed)
    statuses = Counter(Deadline.objects.filter(id__in=[d.pk for d in deadlines]).values_list("status", flat=True))
    assert statuses == {"fired": len(ids) - len(confirmed), "cancelled": len(confirmed)}
    assert sum(fired) == len(ids) - len(confirmed)
    assert not Deadline.objects.filter(id__in=[d.pk for d in deadlines], status="fired").exclude(cancel_reason="")
    assert Notification.objects.filter(kind="order.completed", subject_id__in=ids).count() == 2 * len(ids)
    for order_id in ids[::37]:
        assert chain.chain_verify(subject_kind="order", subject_id=order_id) is None


# --- R-T09: the intervention gate, one notice per refund filed ----------------------------------------


def _refunds_with_their_gates(cast, statuses) -> list[Deadline]:
    """One refund per status in `statuses` (filed through the service, then set to that status), each
    with the R-T09 clock its filing started."""
    from tests.disputes.helpers import T0 as FILED
    from tests.disputes.helpers import file_refund, make_order

    gates = []
    for status in statuses:
        refund = file_refund(cast, make_order(cast, "shipped"), at=FILED + dt.timedelta(days=2))
        Refund.objects.filter(pk=refund.pk).update(status=status)
        gates.append(Deadline.objects.get(subject_kind="refund", subject_id=refund.pk, rule="R-T09"))
    return gates


def _gate_effects(gates: list[Deadline]) -> list[tuple]:
    out = []
    for d in gates:
        d.refresh_from_db()
        refund = Refund.objects.get(pk=d.subject_id)
        notices = Notification.objects.filter(
            subject_kind="refund", subject_id=refund.pk, kind="refund.intervention_open"
        )
        out.append(
            (
                d.status,
                d.outcome,
                refund.status,
                sorted(
                    (n.user_id == refund.buyer_id, n.title.replace(f"退款 {refund.pk}:", "退款 <refund>:"), n.body)
                    for n in notices
                ),
            )
        )
    return out


@pytest.mark.django_db
def test_the_intervention_gate_batch_leaves_exactly_the_rows_the_per_row_path_leaves(cast):
    from tests.disputes.helpers import make_order

    make_order(cast, "shipped")  # so that no refund's id is its order's
    statuses = ["pending_seller", "seller_refused", "in_arbitration", "closed", "refunded"]
    by_row, batched = _refunds_with_their_gates(cast, statuses), _refunds_with_their_gates(cast, statuses)
    with time_machine.travel(by_row[0].due_at + dt.timedelta(minutes=1), tick=False):
        for d in by_row:
            assert engine.deadline_fire(deadline_id=d.pk) is True
        with CaptureQueriesContext(connection) as ctx:
            result = engine.deadlines_fire_batch(rule_id="R-T09", deadline_ids=[d.pk for d in batched])
    assert (result.fired, result.rest) == (len(batched), [])
    # the savepoint and its release, the heads, the refunds' orders read and locked, the refunds and the
    # deadlines locked, the notices, the mark: 9, whatever the number of rows
    assert len(ctx.captured_queries) <= 9
    got, want = _gate_effects(batched), _gate_effects(by_row)
    assert [row[1] for row in got] == [
        "gate open",
        "gate open",
        "noop: refund is in_arbitration",
        "noop: refund is closed",
        "noop: refund is refunded",
    ]
    assert got == want
