from __future__ import annotations

from django.db.models import Q, QuerySet

from core.roles import is_platform_staff
from orders.selectors import shops_of_seller

from .models import LedgerMovement, Penalty


def penalty_list_for(user) -> QuerySet[Penalty]:
    """Platform staff see every penalty; a seller sees their shops' only; nobody else any."""
    qs = Penalty.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if is_platform_staff(user):
        return qs
    return qs.filter(shop__in=shops_of_seller(user))


def ledger_list_for(user) -> QuerySet[LedgerMovement]:
    """Platform staff see every movement; a party sees the movements of its own accounts."""
    qs = LedgerMovement.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if is_platform_staff(user):
        return qs
    accounts = [f"buyer:{user.pk}"]
    for shop_id in shops_of_seller(user).values_list("id", flat=True):
        accounts += [f"shop:{shop_id}", f"frozen:shop:{shop_id}"]
    return qs.filter(Q(debit__in=accounts) | Q(credit__in=accounts))
