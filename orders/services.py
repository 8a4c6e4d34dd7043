"""Order transitions. Each one locks the order, checks its status, writes the audit event and starts
or stops the order's clocks (R-T01 ship, R-T16 auto-confirm)."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core import rulebook
from core.errors import InvalidTransition, RuleViolation
from core.services import event_record, notify
from disputes.engine import deadline_cancel, deadline_mark_fired, deadline_schedule
from disputes.models import Deadline
from penalties.models import Penalty
from penalties.services import penalty_issue, penalty_revoke

from .models import Order, OrderItem, Review, Shipment, Shop

S = Order.Status
R_T01 = rulebook.timer("R-T01")
R_T16 = rulebook.timer("R-T16")
COMPLETED_REASON = "order completed"  # why an order's auto-confirm clocks are cancelled (R-T16)


def _lock(order: Order) -> Order:
    return Order.objects.select_related("shop", "buyer", "shop__owner").select_for_update(of=("self",)).get(pk=order.pk)


def _require(order: Order, action: str, *allowed: str) -> None:
    if order.status not in allowed:
        raise InvalidTransition("order", order.status, action, allowed_from=list(allowed))


def _not_in_future(value: dt.datetime, field: str, now: dt.datetime) -> None:
    if value > now:
        raise RuleViolation(f"{field} cannot be in the future", field=field, code="time_in_future")


def _shop_people(shop: Shop) -> list:
    return [shop.owner, *shop.staff.all()]


@transaction.atomic
def shop_create(*, actor, name: str, kind: str, owner, return_address: str = "", **fields: Any) -> Shop:
    """Register a shop on the platform."""
    shop = Shop.objects.create(name=name, kind=kind, owner=owner, return_address=return_address, **fields)
    event_record(subject=shop, action="shop.created", actor=actor, data={"name": name, "kind": kind})
    return shop


@transaction.atomic
def order_create(
    *,
    actor,
    shop: Shop,
    buyer,
    total_amount: Decimal,
    items: list[dict[str, Any]],
    shipping_fee: Decimal = Decimal("0.00"),
    free_shipping: bool = False,
    shipping_address: str = "",
    presale_ship_by: dt.datetime | None = None,
    promised_ship_hours: int | None = None,
    created_at: dt.datetime | None = None,
) -> Order:
    """An order pushed by the shop platform: `awaiting_payment` (R-T18 counts from its creation)."""
    now = timezone.now()
    created_at = created_at or now
    _not_in_future(created_at, "created_at", now)
    if not items:
        raise RuleViolation("an order has at least one item", field="items", code="no_items")
    order = Order.objects.create(
        shop=shop,
        buyer=buyer,
        total_amount=total_amount,
        shipping_fee=shipping_fee,
        free_shipping=free_shipping,
        shipping_address=shipping_address,
        presale_ship_by=presale_ship_by,
        promised_ship_hours=promised_ship_hours,
        created_at=created_at,
    )
    OrderItem.objects.bulk_create([OrderItem(order=order, **item) for item in items])
    event_record(
        subject=order, action="order.created", actor=actor, to_status=order.status, data={"total": str(total_amount)}
    )
    return order


def ship_exemption(order: Order) -> str:
    """R-T01 exemptions: every item custom-made (定制) or of an exempt category. '' when not exempt."""
    items = list(order.items.all())
    exempt_categories = set(rulebook.resolve(rulebook.SHIP_EXEMPT_CATEGORIES))
    if items and all(item.custom_made for item in items):
        return "custom_made"
    if items and all(item.custom_made or item.category in exempt_categories for item in items):
        return "exempt_category"
    return ""


def _schedule_ship_by(order: Order, paid_at: dt.datetime) -> Deadline | None:
    """R-T01: 72 h from payment; a presale's promised date; a shorter shop or order promise."""
    exempt = ship_exemption(order)
    if exempt:
        order.ship_exempt_reason = exempt
        order.ship_by = None
        return None
    if order.presale_ship_by:
        deadline = deadline_schedule(
            subject=order,
            rule_id=R_T01.id,
            start=paid_at,
            due_at=order.presale_ship_by,
            amount=0,
            unit="presale_date",
            note="presale: the promised ship date (预售约定发货时间)",
        )
    else:
        promises = [h for h in (order.promised_ship_hours, order.shop.shipping_promise_hours) if h]
        hours = min([R_T01.duration(), *promises])
        note = f"shop promise: ship within {hours} h" if hours < R_T01.duration() else ""
        deadline = deadline_schedule(
            subject=order, rule_id=R_T01.id, start=paid_at, amount=hours, unit=R_T01.calendar.value, note=note
        )
    order.ship_by = deadline.due_at
    return deadline


@transaction.atomic
def order_pay(*, order: Order, actor, paid_at: dt.datetime | None = None) -> Order:
    """Payment received: `paid`, and the R-T01 clock starts."""
    now = timezone.now()
    paid_at = paid_at or now
    _not_in_future(paid_at, "paid_at", now)
    order = _lock(order)
    _require(order, "pay", S.AWAITING_PAYMENT)
    if paid_at < order.created_at:
        raise RuleViolation("paid_at is before the order was created", field="paid_at", code="time_before_created")
    order.status = S.PAID
    order.paid_at = paid_at
    _schedule_ship_by(order, paid_at)
    order.save(update_fields=["status", "paid_at", "ship_by", "ship_exempt_reason", "updated_at"])
    event_record(
        subject=order,
        action="order.paid",
        actor=actor,
        from_status=S.AWAITING_PAYMENT,
        to_status=S.PAID,
        data={"paid_at": paid_at.isoformat(), "ship_by": order.ship_by.isoformat() if order.ship_by else None},
    )
    if order.ship_by:
        notify(
            users=_shop_people(order.shop),
            kind="order.paid",
            title=f"订单 {order.pk} 已付款,请于 {timezone.localtime(order.ship_by):%m-%d %H:%M} 前发货",
            body=f"R-T01: {R_T01.words}",
            subject=order,
        )
    return order


def order_late_shipment_penalise(*, order: Order, deadline: Deadline, actor=None, source=None) -> Penalty:
    """A ship clock ran out (R-T01, or R-T21 for an exchange's replacement): penalty R-P01 and its
    compensation, exactly once (one penalty per deadline). `source` defaults to the order."""
    rule = deadline.rule
    penalty = penalty_issue(
        shop=order.shop,
        code="r_p01",
        source=source if source is not None else order,
        actor=actor,
        order=order,
        beneficiary=order.buyer,
        base_amount=order.total_amount,
        deadline=deadline,
        note=late_shipment_note(rule=rule, due_local=timezone.localtime(deadline.due_at)),
    )
    event_record(
        subject=order,
        action="order.late_shipment" if rule == R_T01.id else "order.late_replacement",
        actor=actor,
        from_status=order.status,
        to_status=order.status,
        data={
            "rule": rule,
            "deadline": deadline.pk,
            "penalty": penalty.pk,
            "compensation": str(penalty.compensation_amount),
        },
    )
    title, body = late_shipment_notice(
        order_id=order.pk,
        rule=rule,
        due_local=timezone.localtime(deadline.due_at),
        points=penalty.points,
        amount=penalty.compensation_amount,
        form=penalty.compensation_form,
    )
    people = [order.buyer, *_shop_people(order.shop)]
    notify(users=people, kind="order.late_shipment", title=title, body=body, subject=order)
    return penalty


def late_shipment_note(*, rule: str, due_local: dt.datetime) -> str:
    """The note of a late shipment's penalty (here and in disputes.batch's R-T01 batch)."""
    return f"R-T01 ship_by {due_local:%Y-%m-%d %H:%M:%S}" if rule == R_T01.id else f"{rule} replacement shipped late"


@functools.lru_cache(maxsize=1024)
def _wall_minute(wall: dt.datetime) -> str:
    return f"{wall:%Y-%m-%d %H:%M}"


def _minute_text(at: dt.datetime) -> str:
    """`at` to the minute as a notice writes it, in `at`'s own zone. Kept per minute of wall-clock time:
    a batch's firings share their due minute, and formatting an aware time costs about 5 µs. The key is
    the wall time, not `at`: two aware times of one instant in different zones are equal, and read
    differently."""
    return _wall_minute(at.replace(tzinfo=None, second=0, microsecond=0))


def late_shipment_notice(
    *, order_id: int, rule: str, due_local: dt.datetime, points: int, amount: Decimal, form: str
) -> tuple[str, str]:
    """The title and body of the notice of a late shipment (R-T01) or replacement (R-T21), to the buyer
    and the shop's people (here and in disputes.batch's R-T01 batch)."""
    what = "发货" if rule == R_T01.id else "发出换货新商品"
    return (
        f"订单 {order_id} 延迟{what} ({rule})",
        f"卖家未在 {_minute_text(due_local)} 前{what}:扣 {points} 分,违约金 {amount} ({form})。"
        + ("买家可申请延迟发货退款。" if rule == R_T01.id else ""),
    )


def order_ship_timeout(*, deadline: Deadline, subject: Order) -> str:
    """R-T01 timeout action (the sweeper holds the order's lock)."""
    if subject.status != S.PAID:
        return f"noop: order is {subject.status}"
    penalty = order_late_shipment_penalise(order=subject, deadline=deadline)
    return f"penalty {penalty.pk}"


@transaction.atomic
def order_ship(*, order: Order, actor, carrier: str, tracking_number: str, picked_up_at: dt.datetime) -> Order:
    """The parcel was picked up: `shipped`. Whichever comes first, the sweep or a late pick-up, issues
    R-P01 once; a pick-up in time leaves no penalty even when entered late (a fired one is revoked)."""
    now = timezone.now()
    _not_in_future(picked_up_at, "picked_up_at", now)
    order = _lock(order)
    _require(order, "ship", S.PAID)
    if order.paid_at and picked_up_at < order.paid_at:
        raise RuleViolation("picked_up_at is before payment", field="picked_up_at", code="time_before_paid")
    Shipment.objects.create(
        order=order, carrier=carrier, tracking_number=tracking_number, picked_up_at=picked_up_at, entered_by=actor
    )
    # R-F01: shipping cancels a refund filed before shipment.
    from disputes.services.refunds import refund_cancel_by_shipment

    refund_cancel_by_shipment(order=order, actor=actor)
    order.status = S.SHIPPED
    order.shipped_at = picked_up_at
    order.save(update_fields=["status", "shipped_at", "updated_at"])
    on_time = order.ship_by is None or picked_up_at <= order.ship_by
    ship_deadline = (
        Deadline.objects.select_for_update()
        .filter(subject_kind="order", subject_id=order.pk, kind=R_T01.kind)
        .exclude(status=Deadline.Status.CANCELLED)
        .first()
    )
    outcome = "on_time" if on_time else "late"
    if ship_deadline is not None and ship_deadline.status == Deadline.Status.PENDING:
        if on_time:
            deadline_cancel(subject=order, kinds=[R_T01.kind], reason="shipped in time")
        else:
            penalty = order_late_shipment_penalise(order=order, deadline=ship_deadline)
            deadline_mark_fired(deadline=ship_deadline, by="order.ship", outcome=f"penalty {penalty.pk}")
    elif ship_deadline is not None and on_time:
        # The sweep fired before the seller entered a pick-up that was in time: give it back (R-P12).
        fired_penalty = Penalty.objects.filter(deadline=ship_deadline, status=Penalty.Status.ACTIVE).first()
        if fired_penalty is not None:
            penalty_revoke(
                penalty=fired_penalty,
                actor=None,
                reason=(
                    f"carrier picked up at {timezone.localtime(picked_up_at):%Y-%m-%d %H:%M:%S}, "
                    f"before ship_by {timezone.localtime(order.ship_by):%Y-%m-%d %H:%M:%S}"
                ),
            )
            outcome = "on_time_penalty_revoked"
    deadline_schedule(subject=order, rule_id=R_T16.id, start=picked_up_at)
    event_record(
        subject=order,
        action="order.shipped",
        actor=actor,
        from_status=S.PAID,
        to_status=S.SHIPPED,
        data={
            "carrier": carrier,
            "tracking_number": tracking_number,
            "picked_up_at": picked_up_at.isoformat(),
            "ship_by": order.ship_by.isoformat() if order.ship_by else None,
            "outcome": outcome,
        },
    )
    notify(
        users=[order.buyer],
        kind="order.shipped",
        title=f"订单 {order.pk} 已发货:{carrier} {tracking_number}",
        subject=order,
    )
    return order


@transaction.atomic
def order_deliver(*, order: Order, actor, signed_at: dt.datetime) -> Order:
    """The buyer signed for the parcel (carrier event): `delivered`; R-T14 counts from here."""
    _not_in_future(signed_at, "signed_at", timezone.now())
    order = _lock(order)
    _require(order, "deliver", S.SHIPPED)
    if order.shipped_at and signed_at < order.shipped_at:
        raise RuleViolation("signed_at is before the pick-up", field="signed_at", code="time_before_shipped")
    order.status = S.DELIVERED
    order.signed_at = signed_at
    order.save(update_fields=["status", "signed_at", "updated_at"])
    event_record(
        subject=order,
        action="order.delivered",
        actor=actor,
        from_status=S.SHIPPED,
        to_status=S.DELIVERED,
        data={"signed_at": signed_at.isoformat()},
    )
    return order


def _complete(order: Order, *, actor, action: str, data: dict[str, Any]) -> Order:
    previous = order.status
    order.status = S.COMPLETED
    order.completed_at = timezone.now()
    order.save(update_fields=["status", "completed_at", "updated_at"])
    deadline_cancel(subject=order, kinds=[R_T16.kind], reason=COMPLETED_REASON)
    event_record(subject=order, action=action, actor=actor, from_status=previous, to_status=S.COMPLETED, data=data)
    title, body = completed_notice(order.pk)
    notify(users=[order.buyer, order.shop.owner], kind="order.completed", title=title, body=body, subject=order)
    return order


def completed_notice(order_id: int) -> tuple[str, str]:
    """The title and body of the buyer's and the owner's notice of a completed order (here and in
    disputes.batch's R-T16 batch)."""
    return f"订单 {order_id} 交易成功", "R-T15: 交易成功后15天内可申请售后或投诉"


@transaction.atomic
def order_confirm_receipt(*, order: Order, actor) -> Order:
    """The buyer confirms receipt: `completed` (交易成功); R-T15 counts from here."""
    order = _lock(order)
    _require(order, "confirm receipt of", S.SHIPPED, S.DELIVERED)
    return _complete(order, actor=actor, action="order.receipt_confirmed", data={})


def order_auto_confirm(*, deadline: Deadline, subject: Order) -> str:
    """R-T16 timeout action: the order completes by itself."""
    if subject.status not in (S.SHIPPED, S.DELIVERED):
        return f"noop: order is {subject.status}"
    _complete(subject, actor=None, action="order.auto_confirmed", data={"rule": "R-T16", "deadline": deadline.pk})
    return "completed"


@transaction.atomic
def order_close(*, order: Order, actor) -> Order:
    """An unpaid order is closed (R-T18 still counts from its creation)."""
    order = _lock(order)
    _require(order, "close", S.AWAITING_PAYMENT)
    order.status = S.CLOSED
    order.closed_at = timezone.now()
    order.save(update_fields=["status", "closed_at", "updated_at"])
    event_record(subject=order, action="order.closed", actor=actor, from_status=S.AWAITING_PAYMENT, to_status=S.CLOSED)
    return order


@transaction.atomic
def review_record(*, order: Order, actor, rating: int, text: str = "", posted_at: dt.datetime | None = None) -> Review:
    """The shop platform pushes the buyer's review of a paid order (R-T22 may count from it)."""
    now = timezone.now()
    posted_at = posted_at or now
    _not_in_future(posted_at, "posted_at", now)
    order = _lock(order)
    if order.paid_at is None:
        raise InvalidTransition(
            "order", order.status, "review", allowed_from=[S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED]
        )
    if not 1 <= rating <= 5:
        raise RuleViolation("rating is 1 to 5", field="rating", code="invalid_rating")
    review = Review.objects.create(order=order, buyer=order.buyer, rating=rating, text=text, posted_at=posted_at)
    event_record(subject=order, action="order.reviewed", actor=actor, data={"review": review.pk, "rating": rating})
    return review
