"""Writes of after-sales registration (售后登记) and carrier claims (报损), RULEBOOK §10.

One service per transition; each locks its row, checks the state it found and leaves an audit event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidTransition, RuleViolation
from core.roles import is_platform_staff
from core.services import event_record
from disputes.models import Complaint, Refund
from disputes.services import complaint_file, refund_file
from orders.models import Order, Shipment
from penalties.services import PLATFORM_FUND, ledger_transfer

from .models import LogisticsClaim, Registration

__all__ = [
    "LOGISTICS_CLAIM_TRANSITIONS",
    "REGISTRATION_TRANSITIONS",
    "account_carrier",
    "logistics_claim_change",
    "logistics_claim_pay",
    "logistics_claim_refuse",
    "logistics_claim_report",
    "logistics_claim_submit",
    "logistics_claim_update",
    "registration_change",
    "registration_close",
    "registration_create",
    "registration_file_complaint",
    "registration_file_refund",
    "registration_reopen",
    "registration_resolve",
    "registration_start",
    "registration_update",
]

RS = Registration.Status
LS = LogisticsClaim.Status

# Which states each action may start from.
REGISTRATION_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "start": (RS.OPEN,),
    "resolve": (RS.OPEN, RS.IN_PROGRESS),
    "close": (RS.OPEN, RS.IN_PROGRESS),
    "reopen": (RS.RESOLVED, RS.CLOSED),
}
LOGISTICS_CLAIM_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "submit": (LS.REPORTED,),  # reported → claimed
    "pay": (LS.CLAIMED,),  # claimed → paid
    "refuse": (LS.CLAIMED,),  # claimed → refused
}


def _require(kind: str, current: str, table: dict[str, tuple[str, ...]], action: str) -> None:
    allowed = table[action]
    if current not in allowed:
        raise InvalidTransition(kind, current, action, allowed_from=list(allowed))


def _check_handler(handler) -> None:
    if handler is not None and not is_platform_staff(handler):
        raise RuleViolation("the handler is an agent or an arbitrator", code="handler_not_staff", field="handler")


def _in_future(when) -> bool:
    return when is not None and when > timezone.now()


# --- registrations --------------------------------------------------------------------------------


def _linked(
    *, order: Order | None, refund: Refund | None, complaint: Complaint | None, buyer
) -> tuple[Order | None, Any]:
    """The order a registration concerns and its buyer, checked against the refund or complaint linked."""
    for subject, field in ((refund, "refund"), (complaint, "complaint")):
        if subject is None:
            continue
        if order is not None and subject.order_id != order.pk:
            raise RuleViolation(f"the {field} is not on this order", code="link_mismatch", field=field)
        order = subject.order
    if order is not None:
        if buyer is not None and buyer.pk != order.buyer_id:
            raise RuleViolation("the buyer is not this order's buyer", code="not_the_buyer", field="buyer")
        buyer = order.buyer
    return order, buyer


def _registration_event(registration: Registration, action: str, actor, before: str, data: dict | None = None):
    event_record(
        subject=registration,
        action=action,
        actor=actor,
        from_status=before,
        to_status=registration.status,
        data=data,
    )


@transaction.atomic
def registration_create(
    *,
    actor,
    source: str,
    type: str,
    handler=None,
    summary: str = "",
    result: str = "",
    order: Order | None = None,
    refund: Refund | None = None,
    complaint: Complaint | None = None,
    buyer=None,
) -> Registration:
    """Register one after-sales contact (§10): `open`, handled by `handler` (the registering agent by default)."""
    handler = handler or actor
    _check_handler(handler)
    order, buyer = _linked(order=order, refund=refund, complaint=complaint, buyer=buyer)
    registration = Registration.objects.create(
        source=source,
        type=type,
        handler=handler,
        summary=summary,
        result=result,
        order=order,
        refund=refund,
        complaint=complaint,
        buyer=buyer,
        created_by=actor,
    )
    _registration_event(
        registration,
        "registration.created",
        actor,
        "",
        {
            "source": source,
            "type": type,
            "handler": handler.pk,
            "order": getattr(order, "pk", None),
            "refund": getattr(refund, "pk", None),
            "complaint": getattr(complaint, "pk", None),
        },
    )
    return registration


_REFUND_KIND_TO_TYPE: dict[str, str] = {
    Refund.Kind.REFUND_ONLY: Registration.Type.REFUND,
    Refund.Kind.RETURN_AND_REFUND: Registration.Type.RETURN,
    Refund.Kind.EXCHANGE: Registration.Type.EXCHANGE,
}


@transaction.atomic
def registration_file_refund(
    *,
    actor,
    source: str,
    order: Order,
    buyer,
    kind: str,
    reason: str,
    amount: Decimal,
    description: str = "",
    type: str = "",
    handler=None,
    summary: str = "",
) -> Registration:
    """One step for a buyer who phoned: the refund is filed on the buyer's behalf (actor = the agent)
    and registered with it, in one transaction."""
    refund = refund_file(
        actor=actor, order=order, buyer=buyer, kind=kind, reason=reason, amount=amount, description=description
    )
    return registration_create(
        actor=actor,
        source=source,
        type=type or _REFUND_KIND_TO_TYPE.get(kind, Registration.Type.REFUND),
        handler=handler,
        summary=summary,
        refund=refund,
        buyer=buyer,
    )


@transaction.atomic
def registration_file_complaint(
    *,
    actor,
    source: str,
    order: Order,
    buyer,
    complaint_type: str,
    severity: str = "",
    sku: str = "",
    promise_kind: str = "",
    invoice_amount: Decimal | None = None,
    contacted_first: bool | None = None,
    description: str = "",
    type: str = "",
    handler=None,
    summary: str = "",
) -> Registration:
    """One step for a buyer who phoned: the complaint is filed on the buyer's behalf (actor = the agent)
    and registered with it, in one transaction. A seller's claim (§4) is the seller's to file."""
    if buyer is None or buyer.pk != order.buyer_id:
        raise RuleViolation("the buyer is not this order's buyer", code="not_the_buyer", field="buyer")
    if complaint_type in Complaint.SELLER_CLAIM_TYPES:
        raise RuleViolation(
            "a seller's claim against a buyer is filed by the shop's seller, not on a buyer's behalf",
            code="seller_claim_not_on_behalf",
            field="create",
        )
    complaint = complaint_file(
        actor=actor,
        order=order,
        type=complaint_type,
        severity=severity,
        sku=sku,
        promise_kind=promise_kind,
        invoice_amount=invoice_amount,
        contacted_first=contacted_first,
        description=description,
    )
    return registration_create(
        actor=actor,
        source=source,
        type=type or Registration.Type.COMPLAINT,
        handler=handler,
        summary=summary,
        complaint=complaint,
        buyer=buyer,
    )


REGISTRATION_EDITABLE = ("type", "handler", "summary", "result", "order", "refund", "complaint")


def _lock_registration(registration: Registration) -> Registration:
    return (
        Registration.objects.select_for_update(of=("self",))
        .select_related("order", "refund", "complaint")
        .get(pk=registration.pk)
    )


@transaction.atomic
def registration_update(*, registration: Registration, actor, changes: Mapping[str, Any]) -> Registration:
    """Edit a registration's type, handler, summary, result or links (not its status)."""
    unknown = set(changes) - set(REGISTRATION_EDITABLE)
    if unknown:
        raise RuleViolation(f"not editable: {', '.join(sorted(unknown))}", code="not_editable")
    registration = _lock_registration(registration)
    changed = {k: v for k, v in changes.items() if getattr(registration, k) != v}
    if not changed:
        return registration
    if "handler" in changed:
        _check_handler(changed["handler"])
    for name, value in changed.items():
        setattr(registration, name, value)
    if changed.keys() & {"order", "refund", "complaint"}:
        order, buyer = _linked(
            order=registration.order, refund=registration.refund, complaint=registration.complaint, buyer=None
        )
        registration.order = order
        registration.buyer = buyer if order is not None else registration.buyer
    registration.save()
    _registration_event(
        registration,
        "registration.updated",
        actor,
        registration.status,
        {k: getattr(v, "pk", v) for k, v in changed.items()},
    )
    return registration


_REGISTRATION_EVENTS = {
    "start": "registration.started",
    "resolve": "registration.resolved",
    "close": "registration.closed",
    "reopen": "registration.reopened",
}


def _registration_move(registration: Registration, *, actor, action: str, to: str, result: str | None) -> Registration:
    registration = _lock_registration(registration)
    _require("registration", registration.status, REGISTRATION_TRANSITIONS, action)
    before = registration.status
    if result is not None:
        registration.result = result
    registration.status = to
    registration.resolved_at = timezone.now() if to in Registration.TERMINAL else None
    registration.save()
    _registration_event(registration, _REGISTRATION_EVENTS[action], actor, before, {"result": registration.result})
    return registration


@transaction.atomic
def registration_start(*, registration: Registration, actor) -> Registration:
    """open → in_progress: the handler is working on it."""
    return _registration_move(registration, actor=actor, action="start", to=RS.IN_PROGRESS, result=None)


@transaction.atomic
def registration_resolve(*, registration: Registration, actor, result: str | None = None) -> Registration:
    """open | in_progress → resolved, with its result (处理结果), which is required."""
    if not (result if result is not None else registration.result).strip():
        raise RuleViolation("a resolved registration states its result", code="result_required", field="result")
    return _registration_move(registration, actor=actor, action="resolve", to=RS.RESOLVED, result=result)


@transaction.atomic
def registration_close(*, registration: Registration, actor, result: str | None = None) -> Registration:
    """open | in_progress → closed: ended without a resolution (duplicate, unreachable, nothing to do)."""
    return _registration_move(registration, actor=actor, action="close", to=RS.CLOSED, result=result)


@transaction.atomic
def registration_reopen(*, registration: Registration, actor) -> Registration:
    """resolved | closed → in_progress: the customer came back about the same matter."""
    return _registration_move(registration, actor=actor, action="reopen", to=RS.IN_PROGRESS, result=None)


@transaction.atomic
def registration_change(
    *, registration: Registration, actor, changes: Mapping[str, Any], status: str | None = None
) -> Registration:
    """PATCH: the edits, then at most one transition to `status` (all or nothing)."""
    changes = dict(changes)
    result = changes.pop("result", None) if status in (RS.RESOLVED, RS.CLOSED) else None
    registration = registration_update(registration=registration, actor=actor, changes=changes)
    if status is None or status == registration.status:
        if result is not None:
            registration = registration_update(registration=registration, actor=actor, changes={"result": result})
        return registration
    if status == RS.RESOLVED:
        return registration_resolve(registration=registration, actor=actor, result=result)
    if status == RS.CLOSED:
        return registration_close(registration=registration, actor=actor, result=result)
    if status == RS.IN_PROGRESS:
        if registration.status == RS.OPEN:
            return registration_start(registration=registration, actor=actor)
        return registration_reopen(registration=registration, actor=actor)
    # Back to `open` is no transition of the registration's life.
    raise InvalidTransition("registration", registration.status, f"return to {status}", allowed_from=[])


# --- carrier claims (报损) ---------------------------------------------------------------------------


def account_carrier(carrier: str) -> str:
    """The ledger account of a carrier (e.g. "carrier:顺丰速运")."""
    return f"carrier:{carrier}"


def _claim_event(claim: LogisticsClaim, action: str, actor, before: str, data: dict | None = None) -> None:
    event_record(subject=claim, action=action, actor=actor, from_status=before, to_status=claim.status, data=data)


def _plain(value: Any) -> Any:
    """A changed value as the event's JSON keeps it: money as a string, times in ISO 8601, objects by id."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return getattr(value, "pk", value)


def _check_reported_at(reported_at) -> None:
    if _in_future(reported_at):
        raise RuleViolation("the report date is not in the future", code="in_future", field="reported_at")


@transaction.atomic
def logistics_claim_report(
    *,
    actor,
    order: Order,
    parcel_state: str,
    item: str,
    price: Decimal,
    carrier: str = "",
    tracking_number: str = "",
    reported_at=None,
    handler=None,
    note: str = "",
) -> LogisticsClaim:
    """Register a damaged, lost or delayed parcel (报损) as `reported`; carrier and tracking number
    default to the order's delivery shipment."""
    handler = handler or actor
    _check_handler(handler)
    _check_reported_at(reported_at)
    if price is None or price <= 0:
        raise RuleViolation("the price is above 0.00", code="invalid_price", field="price")
    if not (carrier and tracking_number):
        shipment = order.shipments.filter(kind=Shipment.Kind.DELIVERY).order_by("id").first()
        if shipment is not None:
            carrier = carrier or shipment.carrier
            tracking_number = tracking_number or shipment.tracking_number
    for field, value in (("carrier", carrier), ("tracking_number", tracking_number)):
        if not value:
            raise RuleViolation(f"name the {field.replace('_', ' ')}: the order has no shipment", field=field)
    if len(carrier) > LogisticsClaim._meta.get_field("carrier").max_length:  # type: ignore[operator]
        raise RuleViolation("the carrier's name is at most 32 characters", code="too_long", field="carrier")
    claim = LogisticsClaim.objects.create(
        order=order,
        carrier=carrier,
        tracking_number=tracking_number,
        parcel_state=parcel_state,
        item=item,
        price=price,
        reported_at=reported_at or timezone.now(),
        handler=handler,
        note=note,
        created_by=actor,
    )
    _claim_event(
        claim,
        "logistics_claim.reported",
        actor,
        "",
        {"order": order.pk, "carrier": carrier, "parcel_state": parcel_state, "price": str(price)},
    )
    return claim


LOGISTICS_CLAIM_DETAILS = ("carrier", "tracking_number", "parcel_state", "item", "price", "reported_at")
LOGISTICS_CLAIM_EDITABLE = (*LOGISTICS_CLAIM_DETAILS, "handler", "note", "carrier_reference")


def _lock_claim(claim: LogisticsClaim) -> LogisticsClaim:
    return LogisticsClaim.objects.select_for_update(of=("self",)).select_related("order").get(pk=claim.pk)


@transaction.atomic
def logistics_claim_update(*, claim: LogisticsClaim, actor, changes: Mapping[str, Any]) -> LogisticsClaim:
    """Edit a claim. What was claimed (carrier, tracking number, state, item, price, date) is fixed once
    it has gone to the carrier; handler, note and the carrier's reference may change any time."""
    unknown = set(changes) - set(LOGISTICS_CLAIM_EDITABLE)
    if unknown:
        raise RuleViolation(f"not editable: {', '.join(sorted(unknown))}", code="not_editable")
    claim = _lock_claim(claim)
    changed = {k: v for k, v in changes.items() if getattr(claim, k) != v}
    if not changed:
        return claim
    details = sorted(changed.keys() & set(LOGISTICS_CLAIM_DETAILS))
    if details and claim.status != LS.REPORTED:
        raise InvalidTransition(
            "logistics claim", claim.status, f"edit {', '.join(details)}", allowed_from=[LS.REPORTED]
        )
    if "handler" in changed:
        _check_handler(changed["handler"])
    if "reported_at" in changed:
        _check_reported_at(changed["reported_at"])
    if "price" in changed and not changed["price"] > 0:
        raise RuleViolation("the price is above 0.00", code="invalid_price", field="price")
    for name, value in changed.items():
        setattr(claim, name, value)
    claim.save()
    _claim_event(
        claim,
        "logistics_claim.updated",
        actor,
        claim.status,
        {k: _plain(v) for k, v in changed.items()},
    )
    return claim


@transaction.atomic
def logistics_claim_submit(*, claim: LogisticsClaim, actor, carrier_reference: str = "") -> LogisticsClaim:
    """reported → claimed: the claim has been lodged with the carrier (its reference kept if given)."""
    claim = _lock_claim(claim)
    _require("logistics claim", claim.status, LOGISTICS_CLAIM_TRANSITIONS, "submit")
    before = claim.status
    claim.status = LS.CLAIMED
    claim.claimed_at = timezone.now()
    if carrier_reference:
        claim.carrier_reference = carrier_reference
    claim.save()
    _claim_event(claim, "logistics_claim.claimed", actor, before, {"carrier_reference": claim.carrier_reference})
    return claim


@transaction.atomic
def logistics_claim_pay(
    *, claim: LogisticsClaim, actor, paid_amount: Decimal | None = None, paid_at=None
) -> LogisticsClaim:
    """claimed → paid: the carrier paid (at most the price claimed; the price by default). The payment is
    one ledger movement carrier:<name> → platform_fund, recorded under the claim's row lock, so once."""
    claim = _lock_claim(claim)
    _require("logistics claim", claim.status, LOGISTICS_CLAIM_TRANSITIONS, "pay")
    amount = claim.price if paid_amount is None else Decimal(paid_amount)
    if not Decimal("0") < amount <= claim.price:
        raise RuleViolation(
            f"the amount paid is above 0.00 and at most the {claim.price} claimed",
            code="invalid_paid_amount",
            field="paid_amount",
        )
    now = timezone.now()
    paid_at = paid_at or now
    if _in_future(paid_at) or paid_at < claim.reported_at:
        raise RuleViolation("the payment date lies between the report and now", code="invalid_paid_at", field="paid_at")
    before = claim.status
    claim.movement = ledger_transfer(
        debit=account_carrier(claim.carrier),
        credit=PLATFORM_FUND,
        amount=amount,
        reason="logistics_claim.paid",
        source=claim,
        order=claim.order,
        shop=claim.order.shop,
        at=paid_at,
    )
    claim.status = LS.PAID
    claim.paid_amount = amount
    claim.paid_at = paid_at
    claim.save()
    _claim_event(
        claim, "logistics_claim.paid", actor, before, {"paid_amount": str(amount), "movement": claim.movement.pk}
    )
    return claim


@transaction.atomic
def logistics_claim_refuse(*, claim: LogisticsClaim, actor, reason: str) -> LogisticsClaim:
    """claimed → refused: the carrier refused to pay, for the reason it gave."""
    if not (reason or "").strip():
        raise RuleViolation("say why the carrier refused", code="reason_required", field="refusal_reason")
    claim = _lock_claim(claim)
    _require("logistics claim", claim.status, LOGISTICS_CLAIM_TRANSITIONS, "refuse")
    before = claim.status
    claim.status = LS.REFUSED
    claim.refused_at = timezone.now()
    claim.refusal_reason = reason
    claim.save()
    _claim_event(claim, "logistics_claim.refused", actor, before, {"reason": reason})
    return claim


@transaction.atomic
def logistics_claim_change(
    *,
    claim: LogisticsClaim,
    actor,
    changes: Mapping[str, Any],
    status: str | None = None,
    paid_amount: Decimal | None = None,
    paid_at=None,
    refusal_reason: str = "",
) -> LogisticsClaim:
    """PATCH: the edits, then at most one transition to `status` (all or nothing)."""
    changes = dict(changes)
    reference = changes.pop("carrier_reference", None) if status == LS.CLAIMED else None
    claim = logistics_claim_update(claim=claim, actor=actor, changes=changes)
    # Naming the current status again is no move, unless it carries a move's terms (a second payment).
    terms = paid_amount is not None or paid_at is not None or bool(refusal_reason)
    if status is None or (status == claim.status and not terms):
        if reference is not None:
            claim = logistics_claim_update(claim=claim, actor=actor, changes={"carrier_reference": reference})
        return claim
    services: dict[str, Callable[[], LogisticsClaim]] = {
        LS.CLAIMED: lambda: logistics_claim_submit(claim=claim, actor=actor, carrier_reference=reference or ""),
        LS.PAID: lambda: logistics_claim_pay(claim=claim, actor=actor, paid_amount=paid_amount, paid_at=paid_at),
        LS.REFUSED: lambda: logistics_claim_refuse(claim=claim, actor=actor, reason=refusal_reason),
    }
    if status not in services:
        raise InvalidTransition("logistics claim", claim.status, f"return to {status}", allowed_from=[])
    return services[status]()
