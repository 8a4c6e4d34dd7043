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


def refund_list_for(user):
    """Platform staff see every refund; a buyer their own; a seller their shops'."""
    from orders.selectors import shops_of_seller

    from .models import Refund

    qs = Refund.objects.select_related("order", "shop", "buyer")
    if not user.is_authenticated:
        return qs.none()
    if is_platform_staff(user):
        return qs
    return qs.filter(models.Q(buyer=user) | models.Q(shop__in=shops_of_seller(user)))


def complaint_list_for(user):
    from orders.selectors import shops_of_seller

    from .models import Complaint

    qs = Complaint.objects.select_related("order", "shop", "buyer")
    if not user.is_authenticated:
        return qs.none()
    if is_platform_staff(user):
        return qs
    return qs.filter(models.Q(buyer=user) | models.Q(shop__in=shops_of_seller(user)))


def case_list_for(user):
    """The arbitration queue is the platform's: agents and arbitrators only (parties see their
    refund or complaint instead)."""
    from .models import Case

    qs = Case.objects.select_related("shop", "buyer", "assignee", "refund", "complaint")
    if not user.is_authenticated or not is_platform_staff(user):
        return qs.none()
    return qs


def parties_of(subject: models.Model) -> dict[str, list]:
    """The people on each side of a refund, complaint or case: {"buyer": [user], "seller": [users]}."""
    from .models import Case

    if isinstance(subject, Case):
        subject = subject.subject
    shop = subject.shop  # type: ignore[attr-defined]
    return {"buyer": [subject.buyer], "seller": [shop.owner, *shop.staff.all()]}  # type: ignore[attr-defined]


def is_party(user, subject: models.Model) -> bool:
    people = parties_of(subject)
    return any(u.pk == user.pk for side in people.values() for u in side)
