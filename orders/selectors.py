"""Who sees which shops and orders (CONTRACT.md "Who is who")."""

from __future__ import annotations

from django.db.models import Model, Q, QuerySet

from core.roles import Role, has_role, is_platform_staff

from .models import Order, Shop


def shop_list_for(user) -> QuerySet[Shop]:
    if not user.is_authenticated:
        return Shop.objects.none()
    if is_platform_staff(user) or has_role(user, Role.INTEGRATION):
        return Shop.objects.all()
    return Shop.objects.filter(Q(owner=user) | Q(staff=user)).distinct()


def shops_of_seller(user) -> QuerySet[Shop]:
    return Shop.objects.filter(Q(owner=user) | Q(staff=user))


def shop_ids_of(user) -> list[int]:
    """The ids of the shops `user` sells for (owner or staff), each once."""
    return list(shops_of_seller(user).values_list("id", flat=True).distinct())


def party_rows[M: Model](qs: QuerySet[M], user, *, shops: list[int] | None = None) -> QuerySet[M]:
    """The rows of `qs` (orders, refunds, complaints, cases) `user` is a party to: their own as the
    buyer, and those of every shop they sell for.

    The shops are read first, a small indexed query, so PostgreSQL gets `buyer = … OR shop IN (…)` with
    the ids written out and answers it from the buyer's and the shop's indexes together. With the shops
    as a subquery it tested every row of the table against it: a buyer's first page of orders scanned
    all 1,250,000 of the bench database's (#9). `shops`: the caller's shop ids if already read."""
    shops = shop_ids_of(user) if shops is None else shops
    return qs.filter(Q(buyer=user) | Q(shop__in=shops)) if shops else qs.filter(buyer=user)


def order_list_for(user) -> QuerySet[Order]:
    """All orders for platform staff and the integration; a seller's shops'; a buyer's own."""
    qs = Order.objects.select_related("shop", "buyer").prefetch_related("items", "shipments")
    if not user.is_authenticated:
        return qs.none()
    if is_platform_staff(user) or has_role(user, Role.INTEGRATION):
        return qs
    return party_rows(qs, user)


def is_seller_of(user, shop: Shop) -> bool:
    if shop.owner_id == user.pk:
        return True
    return shop.staff.filter(pk=user.pk).exists()
