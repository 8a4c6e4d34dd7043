"""Reads of the deadline engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db import models

from core.roles import is_platform_staff

from .models import Deadline


def deadlines_attach(objects: Sequence[models.Model]) -> None:
    """Set `_deadlines` on every object with one query, so list endpoints stay at a fixed query count."""
    if not objects:
        return
    kind = objects[0]._meta.model_name
    by_subject: dict[int, list[Deadline]] = defaultdict(list)
    for deadline in Deadline.objects.filter(subject_kind=kind, subject_id__in=[o.pk for o in objects]).order_by(
        "due_at", "id"
    ):
        by_subject[deadline.subject_id].append(deadline)
    for obj in objects:
        obj._deadlines = by_subject.get(obj.pk, [])  # type: ignore[attr-defined]


def deadlines_of(obj: models.Model) -> list[Deadline]:
    cached = getattr(obj, "_deadlines", None)
    if cached is not None:
        return cached
    return list(Deadline.objects.filter(subject_kind=obj._meta.model_name, subject_id=obj.pk).order_by("due_at", "id"))


# --- who sees which refund, complaint, case (CONTRACT.md "Who is who") -----------------------------


def _visible_to_parties(qs, user):
    """Platform staff see every row; a buyer their own; a seller their shops'."""
    from orders.selectors import party_rows

    if not user.is_authenticated:
        return qs.none()
    if is_platform_staff(user):
        return qs
    return party_rows(qs, user)


def refund_list_for(user):
    """Platform staff see every refund; a buyer their own; a seller their shops'."""
    from .models import Refund

    return _visible_to_parties(Refund.objects.select_related("order", "shop", "buyer"), user)


def complaint_list_for(user):
    from .models import Complaint

    return _visible_to_parties(Complaint.objects.select_related("order", "shop", "buyer"), user)


def case_list_for(user):
    """The arbitration queue is the platform's: agents and arbitrators only (parties see their
    refund or complaint instead)."""
    from .models import Case

    qs = Case.objects.select_related("shop", "buyer", "assignee", "refund", "complaint")
    if not user.is_authenticated or not is_platform_staff(user):
        return qs.none()
    return qs


def case_party_list_for(user):
    """Cases in which `user` is the buyer or one of the shop's sellers (to request a review, R-T20)."""
    from orders.selectors import party_rows

    from .models import Case

    if not user.is_authenticated:
        return Case.objects.none()
    qs = Case.objects.select_related("shop", "buyer")
    if user.is_superuser:
        return qs
    return party_rows(qs, user)


def parties_of(subject: models.Model) -> dict[str, list]:
    """The people on each side of a refund, complaint or case: {"buyer": [user], "seller": [users]}."""
    from .models import Case

    if isinstance(subject, Case):  # a case carries its parties itself: no need to load its subject
        return {"buyer": [subject.buyer], "seller": [subject.shop.owner, *subject.shop.staff.all()]}
    shop = subject.shop  # type: ignore[attr-defined]
    return {"buyer": [subject.buyer], "seller": [shop.owner, *shop.staff.all()]}  # type: ignore[attr-defined]


def is_party(user, subject: models.Model) -> bool:
    people = parties_of(subject)
    return any(u.pk == user.pk for side in people.values() for u in side)


# --- buyer risk signals (R-C04, R-C06) ------------------------------------------------------------


def buyer_risk_signals(*, case) -> list[dict]:
    """Explainable signals about the buyer of `case`, each naming the fact behind it. They inform an
    arbitrator; they never decide a case alone (R-C06)."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from core import rulebook
    from orders.models import Order

    from .models import Complaint, Refund

    buyer = case.buyer
    since = timezone.now() - dt.timedelta(days=int(rulebook.resolve(rulebook.RISK_LOOKBACK_DAYS)))
    days = int(rulebook.resolve(rulebook.RISK_LOOKBACK_DAYS))
    signals: list[dict] = []
    dismissed = list(
        Complaint.objects.filter(
            buyer=buyer, complainant=Complaint.Party.BUYER, status=Complaint.Status.DISMISSED, ruled_at__gte=since
        ).values_list("pk", flat=True)
    )
    if dismissed:
        signals.append(
            {
                "code": "complaints_dismissed",
                "rule": "R-C06",
                "label": "近期投诉不成立",
                "fact": f"{len(dismissed)} complaint(s) by this buyer dismissed in the last {days} days: {dismissed}",
                "value": len(dismissed),
            }
        )
    orders = Order.objects.filter(buyer=buyer, paid_at__gte=since).count()
    refunds = Refund.objects.filter(buyer=buyer, created_at__gte=since).count()
    if orders and refunds:
        rate = (Decimal(refunds) / Decimal(orders)).quantize(Decimal("0.01"))
        if rate >= Decimal(str(rulebook.resolve(rulebook.EXPRESS_REFUND_MAX_REFUND_RATE))):
            signals.append(
                {
                    "code": "refund_rate",
                    "rule": "R-C06",
                    "label": "退款率高",
                    "fact": f"{refunds} refund(s) on {orders} paid order(s) in the last {days} days ({rate:.0%})",
                    "value": str(rate),
                }
            )
    complaint = case.complaint
    if complaint is not None and complaint.complainant == Complaint.Party.BUYER and complaint.contacted_first is False:
        signals.append(
            {
                "code": "no_prior_contact",
                "rule": "R-C04",
                "label": "投诉前未联系卖家",
                "fact": f"complaint {complaint.pk} was filed without a prior message to the seller",
                "value": True,
            }
        )
    address = case.order.shipping_address
    if address:
        others = list(
            Order.objects.filter(shipping_address=address, created_at__gte=since)
            .exclude(buyer=buyer)
            .values_list("buyer__username", flat=True)
            .distinct()[:20]
        )
        if others:
            signals.append(
                {
                    "code": "shared_address",
                    "rule": "R-C06",
                    "label": "多账号同一收货地址",
                    "fact": f"{len(others)} other account(s) ship to the same address: {', '.join(others)}",
                    "value": len(others),
                }
            )
    upheld_claims = list(
        Complaint.objects.filter(
            buyer=buyer, complainant=Complaint.Party.SELLER, status=Complaint.Status.UPHELD, ruled_at__gte=since
        ).values_list("pk", flat=True)
    )
    if upheld_claims:
        signals.append(
            {
                "code": "seller_claims_upheld",
                "rule": "R-C06",
                "label": "卖家维权成立",
                "fact": f"{len(upheld_claims)} seller claim(s) against this buyer upheld: {upheld_claims}",
                "value": len(upheld_claims),
            }
        )
    return signals
