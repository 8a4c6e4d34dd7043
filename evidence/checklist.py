"""Required evidence by situation (RULEBOOK §7), as data: which party must prove what.

A subject (refund, complaint, or the case over one of them) matches every situation whose test holds;
its checklist is the union of their items. An item is satisfied by any one of its kinds, submitted by
its side (or by platform staff on that side's behalf) and not rejected on review.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from disputes.models import Case, Complaint, Refund

BUYER, SELLER = "buyer", "seller"


@dataclass(frozen=True)
class Item:
    code: str
    side: str
    kinds: tuple[str, ...]
    label: str
    required: bool = True


@dataclass(frozen=True)
class Situation:
    code: str
    label: str
    applies: Callable[[Refund | None, Complaint | None], bool]
    items: tuple[Item, ...]


NOT_SHIPPED_COMPLAINTS = {"late_shipment", "out_of_stock", "price_raise", "fake_shipment"}
NOT_RECEIVED_REASONS = {"not_delivered", "no_tracking"}
QUALITY_REASONS = {
    "quality_issue",
    "damaged",
    "rejected_damaged",
    "spoiled",
    "counterfeit",
    "wrong_item",
    "missing_items",
    "empty_parcel",
    "size_mismatch",
    "date_mismatch",
    "label_mismatch",
}
QUALITY_COMPLAINTS = {"misdescription", "counterfeit"}
PROMISE_COMPLAINTS = {"breach_of_promise", "after_sales_refused"}
COMMUNICATION = ("chat_log", "site_message", "sms", "call_record")

SITUATIONS: tuple[Situation, ...] = (
    Situation(
        "not_shipped",
        "late-shipment / not-shipped complaint",
        lambda r, c: c is not None and c.type in NOT_SHIPPED_COMPLAINTS,
        (
            Item("shipping_proof", SELLER, ("shipping_proof",), "shipping proof (发货凭证)"),
            Item("chat_log", SELLER, ("chat_log",), "chat log (聊天记录)"),
            # R-C05: only a seller whose carrier stopped shipping to the area has one.
            Item("official_letter", SELLER, ("official_letter",), "carrier's official letter (停发公函)", False),
        ),
    ),
    Situation(
        "not_received",
        'refund "not received", seller says shipped',
        lambda r, c: (
            (r is not None and r.reason in NOT_RECEIVED_REASONS) or (c is not None and c.type == "not_received")
        ),
        (Item("tracking_proof", SELLER, ("shipping_proof",), "shipping proof with tracking number"),),
    ),
    Situation(
        "quality",
        "quality / damage / misdescription",
        lambda r, c: (
            (r is not None and r.reason in QUALITY_REASONS) or (c is not None and c.type in QUALITY_COMPLAINTS)
        ),
        (Item("problem_photos", BUYER, ("photo", "video"), "photos of the problem"),),
    ),
    Situation(
        "return_rejected",
        "return rejected by seller",
        lambda r, c: r is not None and (r.status == Refund.Status.RETURN_REJECTED or bool(r.return_rejection_reason)),
        (Item("arrival_proof", SELLER, ("shipping_proof", "photo", "video"), "logistics proof of what arrived"),),
    ),
    Situation(
        "breach_of_promise",
        "breach of promise",
        lambda r, c: c is not None and c.type in PROMISE_COMPLAINTS,
        (Item("communication", SELLER, COMMUNICATION, "chat log, site messages, SMS or call records"),),
    ),
)


def subjects_of(subject) -> tuple[Refund | None, Complaint | None]:
    """The refund and complaint a checklist is about (a case is about its subject)."""
    if isinstance(subject, Case):
        subject = subject.subject
    if isinstance(subject, Refund):
        return subject, None
    if isinstance(subject, Complaint):
        return None, subject
    raise TypeError(f"no evidence checklist for {type(subject).__name__}")


def situations_for(subject) -> list[Situation]:
    refund, complaint = subjects_of(subject)
    return [s for s in SITUATIONS if s.applies(refund, complaint)]
