"""A claim's batch rules fire in the claim's own transaction (issue #9; disputes.engine._sweep_in_claim):
no lease is written for them, a claim lost before its commit leaves its rows due at once, and while the
claim holds its deadlines' locks it waits for no other lock: what another transaction holds is deferred,
and waited for only after the commit."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
import time_machine
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core import rulebook
from disputes import engine
from disputes.models import Deadline, Refund
from orders.models import Order
from penalties.models import Penalty
from tests.bench.late import late_orders
from tests.disputes.helpers import Holder, lock_waited
from tests.factories import ShopFactory, UserFactory


def _deadline_updates() -> int:
    """Rows of the deadlines' table updated so far in this transaction (PostgreSQL's own count)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = %s", [Deadline._meta.db_table])
        row = cursor.fetchone()
    return row[0] if row else 0


@pytest.mark.django_db
@pytest.mark.parametrize("in_claim, writes", [(True, 1), (False, 2)])
def test_a_batch_in_its_claim_writes_each_deadline_once_its_fired_mark(settings, in_claim, writes):
    settings.DEADLINE_SWEEP_FIRE_IN_CLAIM = in_claim
    shops = [ShopFactory() for _ in range(3)]
    _, deadlines = late_orders([(shops[i % 3], Decimal("50.00")) for i in range(30)], [UserFactory(roles=["buyer"])])
    before = _deadline_updates()
    result = engine.deadlines_sweep_batch(now=timezone.now())
    assert (result.claimed, result.fired, result.batched) == (30, 30, 30)
    # In the claim: the fired mark alone. Leased first (off): the lease, then the mark.
    assert _deadline_updates() - before == writes * 30
    fired = Deadline.objects.filter(id__in=[d.pk for d in deadlines])
    assert {(d.status, d.not_before) for d in fired} == {("fired", None)}


@pytest.mark.django_db(transaction=True)
def test_a_claim_lost_before_its_commit_leaves_its_rows_due_at_once():
    shop = ShopFactory()
    _, deadlines = late_orders([(shop, Decimal("50.00"))] * 4, [UserFactory(roles=["buyer"])])
    now = timezone.now()
    claimed, pid = threading.Event(), []

    def lost_worker():  # claims, then its backend dies before the commit (a killed worker)
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    pid.append(cursor.fetchone()[0])
                assert len(engine._claim_locked(now=now, limit=10)) == 4
                claimed.set()
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_sleep(30)")
        except OperationalError:
            pass
        finally:
            connection.close()

    worker = threading.Thread(target=lost_worker)
    worker.start()
    assert claimed.wait(30)
    assert engine.deadlines_sweep_batch(now=now).claimed == 0  # held by the claim: skipped
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid[0]])
    worker.join(30)
    # No lease to run out: the same sweep time takes them at once.
    assert engine.enforce_deadlines(now=now) == 4
    assert Deadline.objects.filter(id__in=[d.pk for d in deadlines], status="fired").count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_claim_defers_the_rows_whose_subject_or_its_order_another_transaction_holds(cast):
    from tests.disputes.helpers import T0 as FILED
    from tests.disputes.helpers import file_refund, make_order

    refunds = [file_refund(cast, make_order(cast, "shipped"), at=FILED + dt.timedelta(days=2)) for _ in range(3)]
    gates = {r.pk: Deadline.objects.get(subject_kind="refund", subject_id=r.pk, rule="R-T09") for r in refunds}
    # Only the gates fall due: the sellers' answer clocks (R-T04, due earlier) would fire row by row, and
    # the per-row path waits for its locks as it always has.
    Deadline.objects.exclude(pk__in=[g.pk for g in gates.values()]).update(status="cancelled")
    order_held, refund_held, free = refunds
    with time_machine.travel(gates[free.pk].due_at + dt.timedelta(minutes=1), tick=False):
        with (
            Holder(lambda: list(Order.objects.select_for_update().filter(pk=order_held.order_id))),
            Holder(lambda: list(Refund.objects.select_for_update().filter(pk=refund_held.pk))),
        ):
            # Returns while both are still held: nothing waited for.
            result = engine.deadlines_sweep_batch(now=timezone.now())
            assert (result.claimed, result.fired, result.deferred, result.failed) == (3, 1, 2, 0)
            rows = {d.pk: d for d in Deadline.objects.filter(id__in=[g.pk for g in gates.values()])}
            assert rows[gates[free.pk].pk].status == "fired"
            # Deferred, not cancelled as gone, and not leased: the next claim takes them again.
            for held in (order_held, refund_held):
                assert (rows[gates[held.pk].pk].status, rows[gates[held.pk].pk].not_before) == ("pending", None)
        assert engine.enforce_deadlines() == 2
    assert Deadline.objects.filter(id__in=[g.pk for g in gates.values()], status="fired").count() == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_claim", [True, False])
def test_a_sweep_waiting_for_a_held_shop_holds_no_deadline_in_the_claim(settings, in_claim):
    """Every row's shop is held: the sweep waits for it instead of spinning on deferrals, then fires
    them all, either way (DEADLINE_SWEEP_FIRE_IN_CLAIM on and off). In the claim it waits after
    its commit, holding no deadline, so a writer that holds the shop and then wants one of those
    deadlines (a revoked penalty cancelling its sanction's end clock, say) gets it instead of
    deadlocking; leased first (off), the batch waits in its own transaction with its deadlines locked."""
    settings.DEADLINE_SWEEP_FIRE_IN_CLAIM = in_claim
    shop = ShopFactory()
    _, deadlines = late_orders([(shop, Decimal("50.00"))] * 3, [UserFactory(roles=["buyer"])])
    ids = [d.pk for d in deadlines]
    fired: list[int] = []

    def sweep():
        try:
            fired.append(engine.enforce_deadlines())
        finally:
            connection.close()

    with Holder(lambda: list(type(shop).objects.select_for_update().filter(pk=shop.pk))) as holder:
        sweeper = threading.Thread(target=sweep)
        sweeper.start()
        assert lock_waited(holder), "the sweeper never waited for the shop's lock"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(  # the claimed deadlines another writer could lock now
                "SELECT count(*) FROM (SELECT id FROM disputes_deadline WHERE id = ANY(%s)"
                " FOR UPDATE SKIP LOCKED) AS free",
                [ids],
            )
            free = cursor.fetchone()[0]
        assert free == (len(ids) if in_claim else 0)
        assert sweeper.is_alive()
    sweeper.join(30)
    assert fired == [len(ids)]
    assert Deadline.objects.filter(id__in=ids, status="fired").count() == len(ids)


@pytest.mark.django_db
def test_a_claimed_row_changed_within_the_claim_fails_its_batch_whole():
    """A batch fires the claim's rows as claimed, without reading them again: if another batch of the
    same claim changed one meanwhile, the mark's `status = 'pending'` guard fails the batch whole (in
    the sweep: undone to its savepoint, its rows then fire one by one and read them again)."""
    shop = ShopFactory()
    late_orders([(shop, Decimal("50.00"))] * 3, [UserFactory(roles=["buyer"])])
    timer = rulebook.timer("R-T01")
    with transaction.atomic():
        claimed = engine._claim_locked(now=timezone.now(), limit=10)
        assert len(claimed) == 3
        Deadline.objects.filter(pk=claimed[1].pk).update(status="cancelled")
        with pytest.raises(DatabaseError, match="marked 2 of 3"), transaction.atomic():
            engine._fire_batch(
                timer=timer,
                batch_action=import_string(str(timer.batch_action)),
                deadline_ids=[d.pk for d in claimed],
                by="sweep",
                heads=[(d.pk, d.subject_kind, d.subject_id) for d in claimed],
                claimed=claimed,
            )
        assert not Penalty.objects.filter(deadline_id__in=[d.pk for d in claimed]).exists()
        assert Deadline.objects.filter(pk__in=[d.pk for d in claimed], status="fired").count() == 0


@pytest.mark.django_db
def test_a_batch_action_that_cannot_be_imported_leaves_its_rows_to_the_per_row_path(monkeypatch):
    timer = rulebook.timer("R-T01")
    monkeypatch.setitem(
        rulebook.TIMERS, "R-T01", rulebook.Timer(**{**timer.__dict__, "batch_action": "disputes.batch.no_such_action"})
    )
    _, deadlines = late_orders([(ShopFactory(), Decimal("50.00"))] * 3, [UserFactory(roles=["buyer"])])
    result = engine.deadlines_sweep_batch(now=timezone.now())
    assert (result.claimed, result.fired, result.batched, result.failed) == (3, 3, 0, 0)
    assert Penalty.objects.filter(deadline_id__in=[d.pk for d in deadlines]).count() == 3
