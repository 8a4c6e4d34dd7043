"""Refund transitions (RULEBOOK §3, R-F00 … R-F07) and their clocks (R-T02 … R-T09, R-T21).

Lock order everywhere: the order first, then the refund, then deadlines. Every service and every
timeout action locks the order before anything under it, so concurrent writers serialise on the
order and never deadlock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from core import prepared, rulebook
from core.calendar import compute_due
from core.errors import DomainError, InvalidTransition, RuleViolation
from core.inserts import Writes, next_key_sql
from core.services import event_record, notify
from orders.models import Order, Shipment, Shop
from penalties.models import LedgerMovement
from penalties.services import PLATFORM_FUND, account_buyer, account_shop, ledger_transfer

from ..engine import deadline_cancel, deadline_schedule, deadlines_pause, deadlines_resume, deadlines_schedule
from ..models import Case, Complaint, Deadline, Refund
from .cases import case_close_withdrawn, case_open
from .citing import evidence_cite

__all__ = [
    "REFUND_TRANSITIONS",
    "after_sales_window_check",
    "buyer_in_good_standing",
    "refund_after_sales_timeout",
    "refund_answer_timeout",
    "refund_approve",
    "refund_cancel_by_shipment",
    "refund_confirm_return",
    "refund_confirm_return_timeout",
    "refund_escalate",
    "refund_file",
    "refund_freight_payer",
    "refund_intervention_gate",
    "refund_mark_closed",
    "refund_mark_refunded",
    "refund_modify",
    "refund_record_ruled",
    "refund_refuse",
    "refund_reject_return",
    "refund_replacement_shipment",
    "refund_replacement_timeout",
    "refund_request_reason_change",
    "refund_return_not_shipped_timeout",
    "refund_return_shipment",
    "refund_stage_of",
    "refund_withdraw",
]

S = Refund.Status
K = Refund.Kind
OS = Order.Status

T = rulebook.TIMERS
SELLER_ANSWER_KINDS = [T["R-T02"].kind, T["R-T03"].kind, T["R-T04"].kind]
R_T16_KIND = T["R-T16"].kind
R_T08_REMINDER_KIND = f"{T['R-T08'].kind}_reminder"

# The state machine: which states each action may start from. Tests are generated from this table.
REFUND_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "approve": (S.PENDING_SELLER,),
    "refuse": (S.PENDING_SELLER,),
    "modify": (S.SELLER_REFUSED,),
    "return_shipment": (S.AWAITING_RETURN,),
    "confirm_return": (S.RETURN_SHIPPED,),
    "reject_return": (S.RETURN_SHIPPED,),
    # R-T09: at once after a refusal or a rejected return; from the other open states once the gate opened.
    "escalate": (S.SELLER_REFUSED, S.RETURN_REJECTED, S.PENDING_SELLER, S.AWAITING_RETURN, S.RETURN_SHIPPED),
    "withdraw": (
        S.PENDING_SELLER,
        S.SELLER_REFUSED,
        S.AWAITING_RETURN,
        S.RETURN_SHIPPED,
        S.RETURN_REJECTED,
        S.IN_ARBITRATION,
    ),
}


# --- helpers ------------------------------------------------------------------------------------


def _lock(refund: Refund) -> tuple[Refund, Order]:
    order = Order.objects.select_for_update(of=("self",)).select_related("shop", "shop__owner").get(pk=refund.order_id)
    refund = (
        Refund.objects.select_for_update(of=("self",))
        .select_related("order", "shop", "shop__owner", "buyer")
        .get(pk=refund.pk)
    )
    refund.order = order
    return refund, order


def _require(refund: Refund, action: str) -> None:
    allowed = REFUND_TRANSITIONS[action]
    if refund.status not in allowed:
        raise InvalidTransition("refund", refund.status, action.replace("_", " "), allowed_from=list(allowed))


def _sellers(refund: Refund) -> list:
    return [refund.shop.owner, *refund.shop.staff.all()]


def _event(refund: Refund, action: str, actor, before: str, data: dict | None = None) -> None:
    event_record(subject=refund, action=action, actor=actor, from_status=before, to_status=refund.status, data=data)


def _save(refund: Refund, *fields: str) -> None:
    refund.save(update_fields=[*fields, "updated_at"])


def refund_stage_of(order: Order) -> str:
    """The order's stage for refund reasons (§3 table)."""
    if order.status == OS.PAID:
        return Refund.Stage.NOT_SHIPPED
    if order.status == OS.SHIPPED:
        return Refund.Stage.SHIPPED
    if order.status in (OS.DELIVERED, OS.COMPLETED):
        return Refund.Stage.RECEIVED
    raise DomainError(f"no refund on an order in status '{order.status}'", code="order_not_refundable")


def _claiming_refunds(order: Order) -> list[Refund]:
    """The order's refunds that count against R-F04 (neither closed nor exchanged): the refunded and
    the open ones, in no particular order (they are summed and tested), with only the columns R-F04
    and R-F05 read. Written out on PostgreSQL: the ORM took longer to build the statement than
    PostgreSQL to answer it (#9)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            prepared.execute(cursor, _CLAIMING_SQL, [order.pk, str(S.CLOSED), str(S.EXCHANGED)])
            return [Refund.from_db(connection.alias, _CLAIMING_FIELDS, row) for row in cursor.fetchall()]
    claiming = order.refunds.exclude(status__in=[S.CLOSED, S.EXCHANGED]).only(*_CLAIMING_FIELDS)
    return list(claiming.order_by())


# In the model's column order, as from_db takes them.
_CLAIMING_FIELDS = [
    f.attname for f in Refund._meta.concrete_fields if f.attname in ("id", "status", "amount", "refunded_amount")
]
_CLAIMING_SQL = "SELECT {columns} FROM {table} WHERE order_id = %s AND status NOT IN (%s, %s)".format(  # noqa: S608
    columns=", ".join(connection.ops.quote_name(name) for name in _CLAIMING_FIELDS),
    table=connection.ops.quote_name(Refund._meta.db_table),
)


def _refundable_amount(
    order: Order, *, excluding: Refund | None = None, claiming: list[Refund] | None = None
) -> Decimal:
    """R-F04: what was paid minus what is refunded or claimed in other open refunds. `claiming`: the
    order's `_claiming_refunds`, when the caller read them already."""
    refunds = _claiming_refunds(order) if claiming is None else claiming
    taken = Decimal("0.00")
    for r in refunds:
        if excluding is not None and r.pk == excluding.pk:
            continue
        taken += r.refunded_amount if r.status == S.REFUNDED else r.amount
    return order.total_amount - taken


def _received_at(order: Order) -> dt.datetime | None:
    return order.signed_at or order.completed_at


def after_sales_window_check(order: Order, now: dt.datetime) -> None:
    """R-T15: refunds and complaints on a completed order are refused 15 days after completion."""
    if order.status != OS.COMPLETED or order.completed_at is None:
        return
    closes, _ = compute_due(order.completed_at, T["R-T15"].duration(), T["R-T15"].calendar)
    if now > closes:
        raise RuleViolation(
            f"the after-sales window (R-T15) closed at {timezone.localtime(closes):%Y-%m-%d %H:%M:%S}",
            code="after_sales_window_closed",
            field="order",
        )


def _validate_request(
    *,
    order: Order,
    kind: str,
    reason: str,
    amount: Decimal,
    refund: Refund | None = None,
    claiming: list[Refund] | None = None,
) -> str:
    """Check a refund request against §3 and the timers that gate it; return the order's stage.

    A modified request is judged by the windows as they stood when it was filed (R-T14, R-T15, R-T17).
    """
    now = refund.created_at if refund is not None else timezone.now()
    stage = refund_stage_of(order)
    after_sales_window_check(order, now)
    allowed = rulebook.REFUND_REASONS_BY_STAGE[stage]
    if reason not in allowed:
        raise RuleViolation(
            f"reason '{reason}' does not fit an order at stage '{stage}'; allowed: {', '.join(allowed)}",
            code="reason_not_allowed",
            field="reason",
            data={"allowed": list(allowed), "stage": stage},
        )
    kinds = rulebook.REFUND_KINDS_BY_STAGE[stage]
    if kind not in kinds:
        raise RuleViolation(
            f"kind '{kind}' is not possible at stage '{stage}'; allowed: {', '.join(kinds)}",
            code="kind_not_allowed",
            field="kind",
            data={"allowed": list(kinds), "stage": stage},
        )
    if reason == "late_shipment" and order.paid_at:
        # R-T17: late_shipment only once 72 h have passed since payment.
        opens, _ = compute_due(order.paid_at, T["R-T17"].duration(), T["R-T17"].calendar)
        if now < opens:
            raise RuleViolation(
                f"late_shipment can be chosen from {timezone.localtime(opens):%Y-%m-%d %H:%M:%S} (R-T17)",
                code="late_shipment_too_early",
                field="reason",
            )
    if reason == "no_reason_7d":
        received = _received_at(order)
        if received is not None:
            closes, _ = compute_due(received, T["R-T14"].duration(), T["R-T14"].calendar)
            if now >= closes:
                raise RuleViolation(
                    f"the 7-day no-reason window (R-T14) closed at {timezone.localtime(closes):%Y-%m-%d %H:%M:%S}",
                    code="no_reason_window_closed",
                    field="reason",
                )
    # R-F04: an exchange carries 0.00; anything else more than 0 and at most what is left.
    if kind == K.EXCHANGE:
        if amount != Decimal("0.00"):
            raise RuleViolation("an exchange carries the amount 0.00", code="exchange_amount", field="amount")
    else:
        left = _refundable_amount(order, excluding=refund, claiming=claiming)
        if amount <= 0 or amount > left:
            raise RuleViolation(
                f"amount must be more than 0.00 and at most {left} (paid minus refunded or claimed)",
                code="amount_out_of_range",
                field="amount",
                data={"max": str(left)},
            )
    return stage


def _seller_answer_rule(refund: Refund) -> str:
    """R-T02 before shipment, R-T03 for no_reason_7d, R-T04 otherwise."""
    if refund.stage == Refund.Stage.NOT_SHIPPED:
        return "R-T02"
    if refund.reason == "no_reason_7d":
        return "R-T03"
    return "R-T04"


def _schedule_seller_answer(refund: Refund, start: dt.datetime) -> Deadline:
    return deadline_schedule(subject=refund, rule_id=_seller_answer_rule(refund), start=start)


def _auto_confirm_pause(order: Order, at: dt.datetime) -> None:
    """R-T16 pauses while a refund is open."""
    if order.status in (OS.SHIPPED, OS.DELIVERED):
        deadlines_pause(subjects=[order], at=at, kinds=[R_T16_KIND])


def _finish(refund: Refund, order: Order, *, at: dt.datetime, reason: str) -> None:
    """A refund reached a terminal state: stop its clocks and let the order's auto-confirm run again."""
    deadline_cancel(subject=refund, reason=reason, at=at)
    if order.status in (OS.SHIPPED, OS.DELIVERED):
        deadlines_resume(subjects=[order], at=at, kinds=[R_T16_KIND])


def _close(refund: Refund, order: Order, *, actor, reason: str, action: str, data: dict | None = None) -> None:
    before = refund.status
    now = timezone.now()
    refund.status = S.CLOSED
    refund.closed_at = now
    refund.close_reason = reason
    _save(refund, "status", "closed_at", "close_reason")
    _finish(refund, order, at=now, reason=f"refund {reason}")
    _event(refund, action, actor, before, {"reason": reason, **(data or {})})
    notify(
        users=[refund.buyer, *_sellers(refund)],
        kind="refund.closed",
        title=f"退款 {refund.pk} 已关闭",
        body=reason,
        subject=refund,
    )


def _execute(refund: Refund, order: Order, *, actor, action: str, data: dict | None = None) -> None:
    """Pay the refund through the ledger (seller → buyer; seller → platform fund after an express
    advance) and settle the order."""
    if refund.amount > 0:
        ledger_transfer(
            debit=account_shop(refund.shop),
            credit=PLATFORM_FUND if refund.express else account_buyer(refund.buyer),
            amount=refund.amount,
            reason="refund.express_recovered" if refund.express else "refund.executed",
            source=refund,
            order=order,
            shop=refund.shop,
        )
    refund_mark_refunded(refund=refund, order=order, amount=refund.amount, actor=actor, action=action, data=data)


def refund_mark_refunded(
    *, refund: Refund, order: Order, amount: Decimal, actor, action: str, data: dict | None = None
) -> None:
    """`refunded` once the money moved (the caller moved it): a full refund before completion
    closes the trade (退款成功, 交易关闭); the refund's clocks stop. The caller holds the locks."""
    before = refund.status
    now = timezone.now()
    refund.status = S.REFUNDED
    refund.refunded_amount = amount
    refund.refunded_at = now
    _save(refund, "status", "refunded_amount", "refunded_at")
    refunded_total = order.refunds.filter(status=S.REFUNDED).aggregate(s=Sum("refunded_amount"))["s"] or 0
    if refunded_total >= order.total_amount and order.status in (OS.PAID, OS.SHIPPED, OS.DELIVERED):
        # 退款成功, 交易关闭: nothing is left to ship or to confirm.
        previous = order.status
        order.status = OS.CLOSED
        order.closed_at = now
        order.save(update_fields=["status", "closed_at", "updated_at"])
        deadline_cancel(subject=order, reason="order fully refunded", at=now)
        event_record(
            subject=order,
            action="order.closed",
            actor=actor,
            from_status=previous,
            to_status=OS.CLOSED,
            data={"refund": refund.pk, "reason": "fully refunded"},
        )
    _finish(refund, order, at=now, reason="refund refunded")
    _event(refund, action, actor, before, {"amount": str(amount), "express": refund.express, **(data or {})})
    notify(
        users=[refund.buyer, *_sellers(refund)],
        kind="refund.refunded",
        title=f"退款 {refund.pk} 成功:¥{amount}",
        subject=refund,
    )


def refund_mark_closed(*, refund: Refund, order: Order, actor, reason: str, action: str) -> None:
    """`closed` by a ruling or its review (the caller holds the locks and moved any money)."""
    _close(refund, order, actor=actor, reason=reason, action=action)


def refund_record_ruled(
    *, order: Order, actor, amount: Decimal | None, reason: str, source
) -> tuple[Refund | None, LedgerMovement | None]:
    """A refund the platform ordered outside a refund request (e.g. an upheld `not_received`
    complaint): recorded as a refunded Refund so that R-F04 counts it, paid seller → buyer."""
    left = _refundable_amount(order)
    amount = left if amount is None else min(Decimal(amount), left)
    if amount <= 0:
        return None, None
    now = timezone.now()
    refund = Refund.objects.create(
        order=order,
        shop=order.shop,
        buyer=order.buyer,
        created_by=actor if getattr(actor, "pk", None) else order.buyer,
        kind=K.REFUND_ONLY,
        reason=reason,
        stage=refund_stage_of(order) if order.status != OS.CLOSED else Refund.Stage.RECEIVED,
        amount=amount,
        description=f"ordered by {source._meta.model_name} {source.pk}",
        status=S.REFUNDED,
        refunded_amount=amount,
        refunded_at=now,
        created_at=now,
    )
    movement = ledger_transfer(
        debit=account_shop(order.shop),
        credit=account_buyer(order.buyer),
        amount=amount,
        reason="refund.ruled",
        source=refund,
        order=order,
        shop=order.shop,
    )
    event_record(
        subject=refund,
        action="refund.ruled",
        actor=actor,
        to_status=refund.status,
        data={"amount": str(amount), "source": f"{source._meta.model_name}:{source.pk}"},
    )
    return refund, movement


def _await_return(refund: Refund, *, actor, return_address: str, action: str, data: dict | None = None) -> None:
    before = refund.status
    refund.status = S.AWAITING_RETURN
    refund.return_address = return_address or refund.shop.return_address
    _save(refund, "status", "return_address")
    deadline_cancel(subject=refund, kinds=SELLER_ANSWER_KINDS, reason="seller answered")
    deadline_schedule(subject=refund, rule_id="R-T05", start=timezone.now())
    _event(refund, action, actor, before, {"return_address": refund.return_address, **(data or {})})
    notify(
        users=[refund.buyer],
        kind="refund.awaiting_return",
        title=f"退款 {refund.pk}:卖家已同意,请在 {T['R-T05'].duration()} 天内退货",
        body=f"退货地址:{refund.return_address}",
        subject=refund,
    )


def _to_arbitration(refund: Refund, *, actor, reason: str, action: str = "refund.escalated") -> None:
    before = refund.status
    refund.status = S.IN_ARBITRATION
    _save(refund, "status")
    # The refund's own clocks stop: the case's SLA (R-T12) now governs.
    deadline_cancel(subject=refund, reason="escalated to the platform")
    case = case_open(actor=actor, refund=refund, reason=reason)
    _event(refund, action, actor, before, {"case": case.pk, "reason": reason})
    notify(
        users=[refund.buyer, *_sellers(refund)],
        kind="refund.escalated",
        title=f"退款 {refund.pk} 已提交平台介入 (案件 {case.pk})",
        body=reason,
        subject=refund,
    )


def buyer_in_good_standing(buyer, *, at: dt.datetime | None = None) -> bool:
    """R-F06 / §8: no dismissed complaint and a refund rate under 20 % over the last 90 days."""
    at = at or timezone.now()
    since = at - dt.timedelta(days=int(rulebook.resolve(rulebook.EXPRESS_REFUND_WINDOW_DAYS)))
    if Complaint.objects.filter(
        buyer=buyer, complainant=Complaint.Party.BUYER, status=Complaint.Status.DISMISSED, ruled_at__gte=since
    ).exists():
        return False
    # §4: an upheld seller's claim withdraws express refund for 90 days (decision).
    ban_days = int(rulebook.resolve(rulebook.SELLER_CLAIM_EXPRESS_BAN_DAYS))
    if Complaint.objects.filter(
        buyer=buyer,
        complainant=Complaint.Party.SELLER,
        status=Complaint.Status.UPHELD,
        ruled_at__gte=at - dt.timedelta(days=ban_days),
    ).exists():
        return False
    orders = Order.objects.filter(buyer=buyer, paid_at__gte=since).count()
    if orders == 0:
        return True
    refunds = Refund.objects.filter(buyer=buyer, status=S.REFUNDED, refunded_at__gte=since).count()
    return Decimal(refunds) / Decimal(orders) < Decimal(str(rulebook.resolve(rulebook.EXPRESS_REFUND_MAX_REFUND_RATE)))


@dataclass(frozen=True)
class FreightPayer:
    payer: str  # buyer | seller | split
    note: str


def refund_freight_payer(refund: Refund) -> FreightPayer:
    """Who pays the return freight (RULEBOOK §6)."""
    order = refund.order

    def discounted() -> bool:  # the items are read only where the answer depends on them
        return any(item.discounted for item in order.items.all())

    if refund.reason in rulebook.BUYER_FAULT_REASONS:
        if refund.kind == K.EXCHANGE:
            if order.free_shipping and not discounted():
                return FreightPayer(Refund.FreightPayer.SPLIT, "exchange, buyer's choice, free shipping: half each")
            return FreightPayer(Refund.FreightPayer.BUYER, "exchange, buyer's choice: buyer pays both ways")
        if refund.reason == "no_reason_7d" and order.free_shipping and not discounted():
            return FreightPayer(Refund.FreightPayer.BUYER, "7-day no reason on a free-shipping item: return leg only")
        if order.status in (OS.SHIPPED,) and refund.reason == "no_longer_wanted":
            return FreightPayer(Refund.FreightPayer.BUYER, "delivery rejected without reason: buyer pays")
        return FreightPayer(Refund.FreightPayer.BUYER, "buyer's choice (or a discounted item): buyer pays both ways")
    if refund.reason == "rejected_damaged":
        return FreightPayer(Refund.FreightPayer.SELLER, "logistics damage: delivery rejected, seller resends and pays")
    return FreightPayer(Refund.FreightPayer.SELLER, "seller's fault (quality, wrong item, misdescription): both ways")


def _order_for_filing(order: Order, buyer) -> Order:
    """`order` locked for a filing, with its shop (the refund's response names it), the ids of the
    shop's staff (`shop_staff_ids`, to notify them with the owner) and the new refund's id drawn from
    its sequence (`new_refund_id`; None elsewhere, where the insert numbers it): one statement on
    PostgreSQL. The buyer and the shop's owner are not read, their ids are enough. With `buyer`, only
    that buyer's order is locked; another's raises `not_the_buyer`."""
    if connection.vendor == "postgresql":
        locked = _ORDER_FOR_FILING.read(order.pk, buyer.pk if buyer is not None else None)
    else:
        qs = Order.objects.select_for_update(of=("self",)).select_related("shop")
        locked = qs.filter(**({"buyer_id": buyer.pk} if buyer is not None else {})).filter(pk=order.pk).first()
        if locked is not None:
            staff = Shop.staff.through.objects.filter(shop_id=locked.shop_id)  # type: ignore[attr-defined]
            locked.shop_staff_ids = list(staff.values_list("user_id", flat=True))  # type: ignore[attr-defined]
            locked.new_refund_id = None  # type: ignore[attr-defined]
    if locked is None:
        if buyer is None:
            raise Order.DoesNotExist("Order matching query does not exist.")
        raise RuleViolation("the buyer is not this order's buyer", code="not_the_buyer", field="buyer")
    return locked


class _OrderForFilingSQL:
    """`_order_for_filing`'s statement written out for PostgreSQL (#9, bench 4): the ORM spent longer
    building it (~1.4 ms) than PostgreSQL spends answering it. Every column of the order and of its
    shop, in the models' order, so that `from_db` builds the instances the ORM would build
    (tests/disputes/test_refund_api.py compares them); names from the models' metadata."""

    def __init__(self) -> None:
        self.order_fields = [f.attname for f in Order._meta.concrete_fields]
        self.shop_fields = [f.attname for f in Shop._meta.concrete_fields]
        q = connection.ops.quote_name
        columns = [f"o.{q(str(f.column))}" for f in Order._meta.concrete_fields]
        columns += [f"s.{q(str(f.column))}" for f in Shop._meta.concrete_fields]
        staff = Shop.staff.through._meta.db_table  # type: ignore[attr-defined]
        # The new refund's id, drawn from its table's sequence with the lock (a filing refused after it
        # leaves a gap, as a rolled-back insert does).
        self.sql = (
            f"SELECT {', '.join(columns)}, ARRAY(SELECT user_id FROM {q(staff)} WHERE shop_id = o.shop_id), "  # noqa: S608
            f"{next_key_sql(Refund)} "
            f"FROM {q(Order._meta.db_table)} o JOIN {q(Shop._meta.db_table)} s ON s.id = o.shop_id "
            "WHERE o.id = %s{buyer} FOR UPDATE OF o"
        )

    def read(self, order_id: int, buyer_id: int | None) -> Order | None:
        with connection.cursor() as cursor:
            if buyer_id is None:
                prepared.execute(cursor, self.sql.format(buyer=""), [order_id])
            else:
                prepared.execute(cursor, self.sql.format(buyer=" AND o.buyer_id = %s"), [order_id, buyer_id])
            row = cursor.fetchone()
        if row is None:
            return None
        n, m = len(self.order_fields), len(self.shop_fields)
        order = Order.from_db(connection.alias, self.order_fields, row[:n])
        shop = Shop.from_db(connection.alias, self.shop_fields, row[n : n + m])
        Order.shop.field.set_cached_value(order, shop)  # type: ignore[attr-defined]
        order.shop_staff_ids = row[n + m]  # type: ignore[attr-defined]
        order.new_refund_id = row[n + m + 1]  # type: ignore[attr-defined]
        return order


_ORDER_FOR_FILING = _OrderForFilingSQL()


# --- transitions --------------------------------------------------------------------------------


@transaction.atomic
def refund_file(
    *,
    actor,
    order: Order,
    kind: str,
    reason: str,
    amount: Decimal,
    description: str = "",
    buyer=None,
) -> Refund:
    """The buyer (or an agent on the buyer's behalf) files a refund: `pending_seller`. With `buyer`,
    only on that buyer's order (`not_the_buyer` otherwise, before anything is locked)."""
    order = _order_for_filing(order, buyer)
    # One read of the order's refunds serves R-F04 (what is left) and R-F05 (is one open): the order is
    # locked, so they cannot change in between.
    claiming = _claiming_refunds(order)
    stage = _validate_request(order=order, kind=kind, reason=reason, amount=amount, claiming=claiming)
    # R-F05: one open refund per order at a time (also a database constraint).
    if any(r.status not in Refund.TERMINAL for r in claiming):
        raise DomainError("this order already has an open refund (R-F05)", code="open_refund_exists")
    now = timezone.now()
    _auto_confirm_pause(order, now)
    # The refund, its two clocks, its audit event with the chain head, and the notifications: one
    # statement on PostgreSQL (core.inserts.Writes, #9 bench 4), the refund's id drawn beforehand with the
    # order's lock so that the rows naming it (and the event's hash) can be written with it.
    refund = Refund(
        pk=order.new_refund_id,  # type: ignore[attr-defined]
        order=order,
        shop=order.shop,
        buyer_id=order.buyer_id,
        created_by=actor,
        kind=kind,
        reason=reason,
        stage=stage,
        amount=amount,
        description=description,
        created_at=now,
    )
    with Writes() as writes:
        writes.insert([refund])
        clocks = deadlines_schedule(
            subject=refund, rule_ids=[_seller_answer_rule(refund), "R-T09"], start=now, writes=writes
        )
        event_record(
            subject=refund,
            action="refund.filed",
            actor=actor,
            to_status=refund.status,
            data={
                "kind": kind,
                "reason": reason,
                "amount": str(amount),
                "stage": stage,
                "on_behalf": actor.pk != order.buyer_id,
            },
            writes=writes,
        )
        notify(
            user_ids=[order.shop.owner_id, *order.shop_staff_ids],  # type: ignore[attr-defined]
            kind="refund.filed",
            title=f"订单 {order.pk} 有新的退款申请,请及时处理",
            body=f"{refund.get_kind_display()} · {reason} · ¥{amount}",
            subject=refund,
            writes=writes,
        )
    # A new refund's clocks are exactly these two: kept for its response, as deadlines_of would read them.
    refund._deadlines = sorted(clocks, key=lambda d: (d.due_at, d.pk))  # type: ignore[attr-defined]
    return refund


@transaction.atomic
def refund_approve(*, refund: Refund, actor, return_address: str = "") -> Refund:
    """The seller agrees: a refund-only request is paid at once; a return waits for the goods (R-T05)."""
    refund, order = _lock(refund)
    _require(refund, "approve")
    if refund.kind == K.REFUND_ONLY:
        deadline_cancel(subject=refund, kinds=SELLER_ANSWER_KINDS, reason="seller answered")
        _execute(refund, order, actor=actor, action="refund.approved")
    else:
        _await_return(refund, actor=actor, return_address=return_address, action="refund.approved")
    return refund


@transaction.atomic
def refund_refuse(*, refund: Refund, actor, reason: str, evidence: list | None = None) -> Refund:
    """The seller refuses: `seller_refused`, the buyer has 15 days (R-T08); twice for quality → arbitration (R-F03)."""
    refund, order = _lock(refund)
    _require(refund, "refuse")
    if refund.stage == Refund.Stage.NOT_SHIPPED:
        raise DomainError("before shipment the seller may only approve or ship (R-F01)", code="refuse_before_shipment")
    if refund.reason in rulebook.UNREFUSABLE_BEFORE_COMPLETION and order.status != OS.COMPLETED:
        raise DomainError(
            "a 7-day no-reason request cannot be refused before the order completes (R-F02)",
            code="no_reason_unrefusable",
        )
    before = refund.status
    refund.refusal_count += 1
    refund.refusal_reason = reason
    refund.status = S.SELLER_REFUSED
    _save(refund, "refusal_count", "refusal_reason", "status")
    deadline_cancel(subject=refund, kinds=SELLER_ANSWER_KINDS, reason="seller answered")
    evidence_ids = evidence_cite(ids=evidence, actor=actor, subject=refund)
    _event(refund, "refund.refused", actor, before, {"reason": reason, "evidence": evidence_ids})
    if refund.reason == rulebook.AUTO_ARBITRATION_REASON and refund.refusal_count >= rulebook.AUTO_ARBITRATION_REFUSALS:
        _to_arbitration(
            refund, actor=None, reason="quality issue refused twice (R-F03)", action="refund.auto_escalated"
        )
        return refund
    now = timezone.now()
    closes = deadline_schedule(subject=refund, rule_id="R-T08", start=now)
    reminder_days = int(rulebook.resolve(T["R-T08"].reminder_before or 0))
    if reminder_days:
        deadline_schedule(
            subject=refund,
            rule_id="R-T08",
            start=now,
            kind=R_T08_REMINDER_KIND,
            due_at=closes.due_at - dt.timedelta(days=reminder_days),
            amount=T["R-T08"].duration() - reminder_days,
            note=f"reminder {reminder_days} days before R-T08 closes the refund",
        )
    notify(
        users=[refund.buyer],
        kind="refund.refused",
        title=f"卖家拒绝了退款 {refund.pk}:请在 {T['R-T08'].duration()} 天内修改退款协议或申请平台介入",
        body=reason,
        subject=refund,
    )
    return refund


@transaction.atomic
def refund_modify(
    *,
    refund: Refund,
    actor,
    amount: Decimal | None = None,
    reason: str | None = None,
    kind: str | None = None,
    description: str | None = None,
) -> Refund:
    """The buyer changes the request after a refusal: back to `pending_seller`, the seller's clock restarts."""
    refund, order = _lock(refund)
    _require(refund, "modify")
    new_kind = kind or refund.kind
    new_reason = reason or refund.reason
    new_amount = amount if amount is not None else (Decimal("0.00") if new_kind == K.EXCHANGE else refund.amount)
    _validate_request(order=order, kind=new_kind, reason=new_reason, amount=new_amount, refund=refund)
    before = refund.status
    changes = {
        k: str(v)
        for k, v in {"kind": kind, "reason": reason, "amount": amount, "description": description}.items()
        if v is not None
    }
    refund.kind, refund.reason, refund.amount = new_kind, new_reason, new_amount
    if description is not None:
        refund.description = description
    refund.status = S.PENDING_SELLER
    _save(refund, "kind", "reason", "amount", "description", "status")
    deadline_cancel(subject=refund, kinds=[T["R-T08"].kind, R_T08_REMINDER_KIND], reason="buyer modified")
    _schedule_seller_answer(refund, timezone.now())
    _event(refund, "refund.modified", actor, before, changes)
    notify(users=_sellers(refund), kind="refund.modified", title=f"买家修改了退款 {refund.pk},请处理", subject=refund)
    return refund


@transaction.atomic
def refund_return_shipment(*, refund: Refund, actor, carrier: str, tracking_number: str) -> Refund:
    """The buyer sent the goods back: `return_shipped`; the seller has 10 days to confirm (R-T06).
    A buyer in good standing gets the money advanced by the platform at once (R-F06)."""
    refund, order = _lock(refund)
    _require(refund, "return_shipment")
    before = refund.status
    now = timezone.now()
    refund.status = S.RETURN_SHIPPED
    refund.return_carrier = carrier
    refund.return_tracking_number = tracking_number
    refund.return_shipped_at = now
    fields = ["status", "return_carrier", "return_tracking_number", "return_shipped_at"]
    if refund.kind == K.RETURN_AND_REFUND and refund.amount > 0 and buyer_in_good_standing(refund.buyer, at=now):
        refund.express = True
        fields.append("express")
        ledger_transfer(
            debit=PLATFORM_FUND,
            credit=account_buyer(refund.buyer),
            amount=refund.amount,
            reason="refund.express_advance",
            source=refund,
            order=order,
            shop=refund.shop,
        )
    _save(refund, *fields)
    deadline_cancel(subject=refund, kinds=[T["R-T05"].kind], reason="buyer shipped the return")
    deadline_schedule(subject=refund, rule_id="R-T06", start=now)
    _event(
        refund,
        "refund.return_shipped",
        actor,
        before,
        {"carrier": carrier, "tracking_number": tracking_number, "express": refund.express},
    )
    notify(
        users=_sellers(refund),
        kind="refund.return_shipped",
        title=f"退款 {refund.pk}:买家已退货({carrier} {tracking_number}),请在 {T['R-T06'].duration()} 天内确认收货",
        subject=refund,
    )
    if refund.express:
        notify(
            users=[refund.buyer],
            kind="refund.express_advanced",
            title=f"极速退款:平台已先行垫付 ¥{refund.amount}",
            subject=refund,
        )
    return refund


def _exchange_received(refund: Refund, order: Order, *, actor, action: str) -> None:
    """R-F00: the returned goods arrived; the seller now owes a replacement within R-T21."""
    before = refund.status
    now = timezone.now()
    refund.status = S.EXCHANGED
    _save(refund, "status")
    _finish(refund, order, at=now, reason="exchange goods received")
    deadline_schedule(subject=order, rule_id="R-T21", start=now, note=f"replacement for refund {refund.pk}")
    _event(refund, action, actor, before, {"replacement_due_hours": T["R-T21"].duration()})
    notify(
        users=[refund.buyer, *_sellers(refund)],
        kind="refund.exchanged",
        title=f"换货 {refund.pk}:卖家须在 {T['R-T21'].duration()} 小时内发出新商品",
        subject=refund,
    )


@transaction.atomic
def refund_confirm_return(*, refund: Refund, actor) -> Refund:
    """The seller confirms the returned goods: refunded (an exchange: replacement due, R-F00)."""
    refund, order = _lock(refund)
    _require(refund, "confirm_return")
    if refund.kind == K.EXCHANGE:
        _exchange_received(refund, order, actor=actor, action="refund.return_confirmed")
    else:
        _execute(refund, order, actor=actor, action="refund.return_confirmed")
    return refund


@transaction.atomic
def refund_reject_return(*, refund: Refund, actor, reason: str, evidence: list | None = None) -> Refund:
    """The seller rejects the returned goods: `return_rejected` (R-T07); after an express advance the
    platform steps in at once (R-F06)."""
    refund, _order = _lock(refund)
    _require(refund, "reject_return")
    before = refund.status
    refund.status = S.RETURN_REJECTED
    refund.return_rejection_reason = reason
    _save(refund, "status", "return_rejection_reason")
    deadline_cancel(subject=refund, kinds=[T["R-T06"].kind], reason="seller answered the return")
    evidence_ids = evidence_cite(ids=evidence, actor=actor, subject=refund)
    _event(refund, "refund.return_rejected", actor, before, {"reason": reason, "evidence": evidence_ids})
    from evidence.services import evidence_status_refresh

    evidence_status_refresh(subject=refund)  # §7: a rejected return needs the seller's logistics proof
    if refund.express:
        _to_arbitration(refund, actor=None, reason="return rejected after an express refund (R-F06)")
        return refund
    deadline_schedule(subject=refund, rule_id="R-T07", start=timezone.now())
    notify(
        users=[refund.buyer],
        kind="refund.return_rejected",
        title=f"卖家拒绝确认收到退货 {refund.pk}:可申请平台介入,{T['R-T07'].duration()} 天内无人处理将关闭",
        body=reason,
        subject=refund,
    )
    return refund


@transaction.atomic
def refund_escalate(*, refund: Refund, actor, reason: str = "") -> Refund:
    """Ask the platform to intervene (R-T09): at once after a refusal or a rejected return, otherwise
    once the 15-day gate has opened. The seller may escalate a rejected return too."""
    refund, _order = _lock(refund)
    _require(refund, "escalate")
    is_buyer = actor.pk == refund.buyer_id
    if not is_buyer and refund.status != S.RETURN_REJECTED:
        raise InvalidTransition("refund", refund.status, "escalate (seller)", allowed_from=[S.RETURN_REJECTED])
    if refund.status not in (S.SELLER_REFUSED, S.RETURN_REJECTED):
        opens, _ = compute_due(refund.created_at, T["R-T09"].duration(), T["R-T09"].calendar)
        if timezone.now() < opens:
            raise DomainError(
                f"the platform can be asked to intervene from {timezone.localtime(opens):%Y-%m-%d %H:%M:%S} "
                "(R-T09), or at once after the seller refuses",
                code="intervention_not_open",
                data={"opens_at": opens.isoformat()},
            )
    _to_arbitration(refund, actor=actor, reason=reason or ("buyer asked" if is_buyer else "seller asked"))
    return refund


@transaction.atomic
def refund_withdraw(*, refund: Refund, actor) -> Refund:
    """The buyer withdraws the request: `closed` (an open case is closed with it)."""
    refund, order = _lock(refund)
    _require(refund, "withdraw")
    case = Case.objects.filter(refund=refund).first()
    if case is not None:
        case_close_withdrawn(case=case, actor=actor)
    _close(refund, order, actor=actor, reason="withdrawn", action="refund.withdrawn")
    return refund


@transaction.atomic
def refund_replacement_shipment(
    *, refund: Refund, actor, carrier: str, tracking_number: str, picked_up_at: dt.datetime
) -> Refund:
    """R-F00: the seller ships the exchange's replacement; a pick-up after R-T21 is a late shipment."""
    refund, order = _lock(refund)
    if refund.kind != K.EXCHANGE or refund.status != S.EXCHANGED:
        raise InvalidTransition("refund", refund.status, "ship a replacement for", allowed_from=[S.EXCHANGED])
    now = timezone.now()
    if picked_up_at > now:
        raise RuleViolation("picked_up_at cannot be in the future", field="picked_up_at", code="time_in_future")
    if order.shipments.filter(kind=Shipment.Kind.REPLACEMENT, entered_at__gte=refund.created_at).exists():
        raise DomainError("the replacement was already shipped", code="replacement_already_shipped")
    Shipment.objects.create(
        order=order,
        kind=Shipment.Kind.REPLACEMENT,
        carrier=carrier,
        tracking_number=tracking_number,
        picked_up_at=picked_up_at,
        entered_by=actor,
    )
    deadline = (
        Deadline.objects.select_for_update()
        .filter(subject_kind="order", subject_id=order.pk, kind=T["R-T21"].kind, status=Deadline.Status.PENDING)
        .first()
    )
    if deadline is not None:
        if picked_up_at <= deadline.due_at:
            deadline_cancel(subject=order, kinds=[T["R-T21"].kind], reason="replacement shipped in time")
        else:
            from ..engine import deadline_mark_fired

            outcome = _late_replacement(order, deadline, refund=refund)
            deadline_mark_fired(deadline=deadline, by="refund.replacement_shipment", outcome=outcome)
    event_record(
        subject=refund,
        action="refund.replacement_shipped",
        actor=actor,
        from_status=refund.status,
        to_status=refund.status,
        data={"carrier": carrier, "tracking_number": tracking_number, "picked_up_at": picked_up_at.isoformat()},
    )
    notify(
        users=[refund.buyer],
        kind="refund.replacement_shipped",
        title=f"换货新商品已发出:{carrier} {tracking_number}",
        subject=refund,
    )
    return refund


@transaction.atomic
def refund_request_reason_change(*, refund: Refund, actor, note: str = "") -> Refund:
    """R-F07: the seller says the buyer's `out_of_stock` / `late_shipment` is untrue and asks for another
    reason; the seller may ship instead (R-F01), and a buyer who then rejects delivery pays the freight."""
    refund, _ = _lock(refund)
    if refund.status != S.PENDING_SELLER:
        raise InvalidTransition("refund", refund.status, "request a reason change on", allowed_from=[S.PENDING_SELLER])
    if refund.reason not in ("out_of_stock", "late_shipment"):
        raise DomainError(
            "a reason change is asked only for out_of_stock or late_shipment (R-F07)",
            code="reason_change_not_applicable",
        )
    event_record(
        subject=refund,
        action="refund.reason_change_requested",
        actor=actor,
        from_status=refund.status,
        to_status=refund.status,
        data={"reason": refund.reason, "note": note, "rule": "R-F07"},
    )
    notify(
        users=[refund.buyer],
        kind="refund.reason_change_requested",
        title=f"卖家认为退款原因「{refund.reason}」与事实不符,请修改原因;卖家也可能直接发货",
        body=note,
        subject=refund,
    )
    return refund


def refund_cancel_by_shipment(*, order: Order, actor) -> Refund | None:
    """R-F01: shipping cancels a refund filed before shipment (the caller holds the order's lock)."""
    refund = (
        Refund.objects.select_for_update(of=("self",))
        .filter(order=order, stage=Refund.Stage.NOT_SHIPPED, status=S.PENDING_SELLER)
        .select_related("shop", "shop__owner", "buyer")
        .first()
    )
    if refund is None:
        return None
    refund.order = order
    _close(refund, order, actor=actor, reason="cancelled_by_shipment", action="refund.cancelled_by_shipment")
    return refund


# --- timeout actions (the engine holds the order's and the refund's locks) ------------------------


def _fresh(subject: Refund) -> tuple[Refund, Order]:
    order = Order.objects.select_related("shop", "shop__owner").get(pk=subject.order_id)
    subject.order = order
    return subject, order


def refund_answer_timeout(*, deadline: Deadline, subject: Refund) -> str:
    """R-T02 / R-T03 / R-T04: the seller stayed silent; the request is agreed automatically."""
    refund, order = _fresh(subject)
    if refund.status != S.PENDING_SELLER:
        return f"noop: refund is {refund.status}"
    if refund.kind == K.REFUND_ONLY:
        deadline_cancel(subject=refund, kinds=SELLER_ANSWER_KINDS, reason="auto-agreed")
        _execute(refund, order, actor=None, action="refund.auto_agreed", data={"rule": deadline.rule})
        return "refunded"
    _await_return(refund, actor=None, return_address="", action="refund.auto_agreed", data={"rule": deadline.rule})
    return "awaiting_return"


def refund_return_not_shipped_timeout(*, deadline: Deadline, subject: Refund) -> str:
    """R-T05: the buyer never sent the goods back; the refund closes."""
    refund, order = _fresh(subject)
    if refund.status != S.AWAITING_RETURN:
        return f"noop: refund is {refund.status}"
    _close(
        refund, order, actor=None, reason="return not shipped in time", action="refund.closed", data={"rule": "R-T05"}
    )
    return "closed"


def refund_confirm_return_timeout(*, deadline: Deadline, subject: Refund) -> str:
    """R-T06: the seller did not confirm the returned goods; the buyer is refunded (an exchange proceeds)."""
    refund, order = _fresh(subject)
    if refund.status != S.RETURN_SHIPPED:
        return f"noop: refund is {refund.status}"
    if refund.kind == K.EXCHANGE:
        _exchange_received(refund, order, actor=None, action="refund.auto_confirmed_return")
        return "exchanged"
    _execute(refund, order, actor=None, action="refund.auto_confirmed_return", data={"rule": "R-T06"})
    return "refunded"


def refund_after_sales_timeout(*, deadline: Deadline, subject: Refund) -> str:
    """R-T07 (return rejected, nobody acted) and R-T08 (refused, the buyer did not modify): closed.
    The R-T08 reminder three days before only reminds the buyer."""
    refund, order = _fresh(subject)
    if deadline.kind == R_T08_REMINDER_KIND:
        if refund.status != S.SELLER_REFUSED:
            return f"noop: refund is {refund.status}"
        notify(
            users=[refund.buyer],
            kind="refund.closing_soon",
            title=f"退款 {refund.pk} 将在 {T['R-T08'].reminder_before} 天后自动关闭,请修改退款协议或申请平台介入",
            body=T["R-T08"].words,
            subject=refund,
        )
        event_record(
            subject=refund,
            action="refund.reminder_sent",
            actor=None,
            from_status=refund.status,
            to_status=refund.status,
            data={"rule": "R-T08"},
        )
        return "reminded"
    expected = S.RETURN_REJECTED if deadline.rule == "R-T07" else S.SELLER_REFUSED
    if refund.status != expected:
        return f"noop: refund is {refund.status}"
    _close(
        refund,
        order,
        actor=None,
        reason=f"nobody acted in time ({deadline.rule})",
        action="refund.closed",
        data={"rule": deadline.rule},
    )
    return "closed"


def refund_intervention_gate(*, deadline: Deadline, subject: Refund) -> str:
    """R-T09: from now on the buyer may ask the platform to intervene."""
    if not intervention_opens(subject):
        return f"noop: refund is {subject.status}"
    title, body = intervention_notice(subject.pk)
    notify(users=[subject.buyer], kind="refund.intervention_open", title=title, body=body, subject=subject)
    return "gate open"


def intervention_opens(refund: Refund) -> bool:
    """R-T09's gate opens on a refund still open and not already before the platform (here and in
    disputes.batch's R-T09 batch)."""
    return refund.is_open and refund.status != S.IN_ARBITRATION


def intervention_notice(refund_id: int) -> tuple[str, str]:
    """The title and body of the buyer's notice that R-T09's gate opened."""
    return f"退款 {refund_id}:现在可以申请平台客服介入", T["R-T09"].words


def _late_replacement(order: Order, deadline: Deadline, *, refund: Refund | None) -> str:
    """R-T21: a late replacement is a late shipment, as R-T01 (orders' one penalty path)."""
    from orders.services import order_late_shipment_penalise

    penalty = order_late_shipment_penalise(order=order, deadline=deadline, source=refund)
    return f"penalty {penalty.pk}"


def refund_replacement_timeout(*, deadline: Deadline, subject: Order) -> str:
    """R-T21: the replacement of an exchange was not shipped in time: a late-shipment violation."""
    order = Order.objects.select_related("shop", "shop__owner", "buyer").get(pk=subject.pk)
    refund = order.refunds.filter(kind=K.EXCHANGE, status=S.EXCHANGED).order_by("-id").first()
    return _late_replacement(order, deadline, refund=refund)
