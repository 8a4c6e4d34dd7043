"""Penalties and the double-entry ledger (RULEBOOK §5, R-P13)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import models, transaction
from django.db.models import Sum
from django.utils import timezone

from core import rulebook
from core.errors import InvalidTransition
from core.money import percent_of
from core.services import event_record, notify

from .models import LedgerEntry, LedgerMovement, Penalty

PLATFORM = "platform"
PLATFORM_FUND = "platform_fund"


def account_buyer(user) -> str:
    return f"buyer:{user.pk}"


def account_shop(shop) -> str:
    return f"shop:{shop.pk}"


def account_frozen(shop) -> str:
    return f"frozen:shop:{shop.pk}"


def ledger_transfer(
    *,
    debit: str,
    credit: str,
    amount: Decimal,
    reason: str,
    currency: str = LedgerMovement.Currency.CNY,
    source: models.Model | None = None,
    order=None,
    shop=None,
    penalty: Penalty | None = None,
    at: dt.datetime | None = None,
) -> LedgerMovement:
    """Move `amount` from `debit` to `credit`: one movement, two entries that sum to zero."""
    amount = Decimal(amount)
    if amount <= 0:
        raise ValueError("a ledger movement moves a positive amount")
    movement = LedgerMovement.objects.create(
        at=at or timezone.now(),
        debit=debit,
        credit=credit,
        amount=amount,
        currency=currency,
        reason=reason,
        source_kind=(source._meta.model_name or "") if source is not None else "",
        source_id=source.pk if source is not None else None,
        order=order,
        shop=shop,
        penalty=penalty,
    )
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(movement=movement, account=debit, amount=-amount, currency=currency),
            LedgerEntry(movement=movement, account=credit, amount=amount, currency=currency),
        ]
    )
    return movement


def account_balance(account: str, currency: str = LedgerMovement.Currency.CNY) -> Decimal:
    total = LedgerEntry.objects.filter(account=account, currency=currency).aggregate(s=Sum("amount"))["s"]
    return total or Decimal("0.00")


def compensation_for(*, code: str, shop_kind: str, base: Decimal) -> tuple[Decimal, str]:
    """(amount in the form's unit, form) of the compensation a rule gives on `base` paid."""
    rule = rulebook.PENALTIES_BY_CODE[code]
    comp = rule.compensation_for(shop_kind)
    if comp is None or base <= 0:
        return Decimal("0.00"), Penalty.Form.CASH
    amount = percent_of(base, comp.percent, minimum=comp.minimum, maximum=comp.maximum)
    if comp.form == Penalty.Form.POINTS:
        # The cap is in yuan; the buyer receives platform points worth that much.
        amount = amount * int(rulebook.resolve(rulebook.PLATFORM_POINTS_PER_YUAN))
    return amount, comp.form


def penalty_issue(
    *,
    shop,
    code: str,
    source: models.Model,
    actor=None,
    order=None,
    beneficiary=None,
    base_amount: Decimal | None = None,
    deadline=None,
    points: int | None = None,
    note: str = "",
) -> Penalty:
    """Issue penalty `code` (r_p01 …) to `shop` for `source`, paying its compensation to `beneficiary`."""
    rule = rulebook.PENALTIES_BY_CODE[code]
    amount, form = (
        compensation_for(code=code, shop_kind=shop.kind, base=base_amount)
        if base_amount is not None and beneficiary is not None
        else (Decimal("0.00"), Penalty.Form.CASH)
    )
    penalty = Penalty.objects.create(
        shop=shop,
        code=code,
        points=rule.points_for(shop.kind) if points is None else points,
        point_class=rule.point_class,
        compensation_amount=amount,
        compensation_form=form,
        source_kind=source._meta.model_name or "",
        source_id=source.pk,
        order=order,
        beneficiary=beneficiary,
        deadline=deadline,
        issued_by=actor,
        note=note[:300],
    )
    if amount > 0:
        ledger_transfer(
            debit=account_shop(shop),
            credit=account_buyer(beneficiary),
            amount=amount,
            currency=LedgerMovement.Currency.POINTS if form == Penalty.Form.POINTS else LedgerMovement.Currency.CNY,
            reason=f"compensation.{code}",
            source=source,
            order=order,
            shop=shop,
            penalty=penalty,
        )
    event_record(
        subject=penalty,
        action="penalty.issued",
        actor=actor,
        to_status=penalty.status,
        data={
            "code": code,
            "rule": rule.id,
            "points": penalty.points,
            "compensation": str(amount),
            "form": form,
            "source": f"{penalty.source_kind}:{penalty.source_id}",
        },
    )
    return penalty


@transaction.atomic
def penalty_revoke(*, penalty: Penalty, actor, reason: str) -> Penalty:
    """R-P12: give the points back and reverse the compensation; who and why are recorded."""
    penalty = Penalty.objects.select_for_update().get(pk=penalty.pk)
    if penalty.status != Penalty.Status.ACTIVE:
        raise InvalidTransition("penalty", penalty.status, "revoke", allowed_from=[Penalty.Status.ACTIVE])
    for movement in penalty.movements.filter(reason__startswith="compensation."):
        ledger_transfer(
            debit=movement.credit,
            credit=movement.debit,
            amount=movement.amount,
            currency=movement.currency,
            reason="compensation.reversed",
            source=penalty,
            order=movement.order,
            shop=movement.shop,
            penalty=penalty,
        )
    penalty.status = Penalty.Status.REVOKED
    penalty.revoked_at = timezone.now()
    penalty.revoked_by = actor if actor is not None and getattr(actor, "pk", None) else None
    penalty.revoke_reason = reason[:300]
    penalty.save(update_fields=["status", "revoked_at", "revoked_by", "revoke_reason"])
    event_record(
        subject=penalty,
        action="penalty.revoked",
        actor=actor,
        from_status=Penalty.Status.ACTIVE,
        to_status=Penalty.Status.REVOKED,
        data={"reason": reason, "points_returned": penalty.points},
    )
    notify(
        users=[penalty.shop.owner, penalty.beneficiary],
        kind="penalty.revoked",
        title=f"处罚已撤销 Penalty {penalty.code} revoked",
        body=reason,
        subject=penalty,
    )
    return penalty
