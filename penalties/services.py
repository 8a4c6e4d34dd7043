"""Penalties, sanctions, obligations and the double-entry ledger (RULEBOOK §5, R-P13).

Every service that changes a shop's points locks the shop row first, so the sanction thresholds
(R-P11) are evaluated on a consistent sum even when a sweep and an arbitrator act at once. Lock order:
the caller's subject (order, complaint …), then the shop, then the penalty.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import models, transaction
from django.db.models import Sum
from django.utils import timezone

from core import rulebook
from core.errors import InvalidTransition, RuleViolation
from core.money import percent_of
from core.services import event_record, notify
from disputes.engine import deadline_cancel, deadline_schedule
from disputes.models import Deadline
from orders.models import Shop

from .models import ItemAction, LedgerEntry, LedgerMovement, Obligation, Penalty, Sanction
from .selectors import natural_year, shop_points, year_bounds

PLATFORM = "platform"
PLATFORM_FUND = "platform_fund"

R_P03 = rulebook.PENALTIES["R-P03"]
R_P04 = rulebook.PENALTIES["R-P04"]
R_P05 = rulebook.PENALTIES["R-P05"]
R_P11_END = rulebook.timer("R-P11")
# Penalties whose points or consequences need more than a code: issued by their own service.
_SPECIAL_CODES = {
    R_P03.code: "penalty_issue_breach",
    R_P04.code: "penalty_issue_misdescription",
    R_P05.code: "penalty_issue_counterfeit",
}


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
    """Move `amount` from `debit` to `credit`: one movement, two entries that sum to zero (R-P13)."""
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


def ledger_reverse(
    *, movement: LedgerMovement, reason: str, source: models.Model, penalty: Penalty | None = None
) -> LedgerMovement:
    """Move `movement`'s amount back: a new movement with its accounts swapped (R-P13 keeps history)."""
    return ledger_transfer(
        debit=movement.credit,
        credit=movement.debit,
        amount=movement.amount,
        currency=movement.currency,
        reason=reason,
        source=source,
        order=movement.order,
        shop=movement.shop,
        penalty=penalty,
    )


def account_balance(account: str, currency: str = LedgerMovement.Currency.CNY) -> Decimal:
    total = LedgerEntry.objects.filter(account=account, currency=currency).aggregate(s=Sum("amount"))["s"]
    return total or Decimal("0.00")


def compensation_for(*, code: str, shop_kind: str, base: Decimal) -> tuple[Decimal, str]:
    """(amount in the form's unit, form) of the compensation a rule gives on `base` paid."""
    rule = rulebook.PENALTIES_BY_CODE[code]
    comp = rule.compensation_for(shop_kind)
    if comp is None or base <= 0:
        return Decimal("0.00"), Penalty.Form.CASH
    return _compensation_amount(comp, base), comp.form


def _compensation_amount(comp: rulebook.Compensation, base: Decimal) -> Decimal:
    amount = percent_of(base, comp.percent, minimum=comp.minimum, maximum=comp.maximum)
    if comp.form == Penalty.Form.POINTS:
        # The cap is in yuan; the buyer receives platform points worth that much.
        amount = amount * int(rulebook.resolve(rulebook.PLATFORM_POINTS_PER_YUAN))
    return amount


def _lock_shop(shop: Shop) -> Shop:
    return Shop.objects.select_for_update().get(pk=shop.pk)


def _create(
    *,
    shop: Shop,
    rule: rulebook.PenaltyRule,
    source: models.Model,
    actor,
    points: int,
    compensation: tuple[Decimal, str] = (Decimal("0.00"), Penalty.Form.CASH),
    order=None,
    beneficiary=None,
    deadline: Deadline | None = None,
    note: str = "",
    sku: str = "",
    severity: str = "",
    ladder_step: int | None = None,
    item_action: str = "",
) -> Penalty:
    """The common part of every issue: the row, its compensation in the ledger, its item action, the
    audit event, and the sanctions its points cross. The caller holds the shop's lock."""
    amount, form = compensation
    penalty = Penalty.objects.create(
        shop=shop,
        code=rule.code,
        points=points,
        point_class=rule.point_class,
        compensation_amount=amount,
        compensation_form=form,
        source_kind=source._meta.model_name or "",
        source_id=source.pk,
        order=order,
        beneficiary=beneficiary,
        deadline=deadline,
        issued_by=actor if actor is not None and getattr(actor, "pk", None) else None,
        note=note[:300],
        sku=sku,
        severity=severity,
        ladder_step=ladder_step,
        item_action=item_action,
    )
    if amount > 0:
        # R-P13: compensation is a ledger movement; cash and platform points are separate currencies.
        ledger_transfer(
            debit=account_shop(shop),
            credit=account_buyer(beneficiary),
            amount=amount,
            currency=LedgerMovement.Currency.POINTS if form == Penalty.Form.POINTS else LedgerMovement.Currency.CNY,
            reason=f"compensation.{rule.code}",
            source=source,
            order=order,
            shop=shop,
            penalty=penalty,
        )
    if item_action:
        ItemAction.objects.create(shop=shop, sku=sku, action=item_action, penalty=penalty, at=penalty.issued_at)
    event_record(
        subject=penalty,
        action="penalty.issued",
        actor=actor,
        to_status=penalty.status,
        data={
            "code": rule.code,
            "rule": rule.id,
            "points": points,
            "point_class": rule.point_class,
            "compensation": str(amount),
            "form": form,
            "source": f"{penalty.source_kind}:{penalty.source_id}",
            **({"sku": sku} if sku else {}),
            **({"severity": severity} if severity else {}),
            **({"ladder_step": ladder_step} if ladder_step else {}),
            **({"item_action": item_action} if item_action else {}),
        },
    )
    sanctions_check(shop=shop, penalty=penalty)
    return penalty


@transaction.atomic
def penalty_issue(
    *,
    shop: Shop,
    code: str,
    source: models.Model,
    actor,
    order=None,
    beneficiary=None,
    base_amount: Decimal | None = None,
    deadline: Deadline | None = None,
    points: int | None = None,
    note: str = "",
) -> Penalty:
    """Issue penalty `code` (R-P01, R-P02, R-P06, R-P07) to `shop` for `source`, paying its
    compensation on `base_amount` to `beneficiary`. R-P03, R-P04 and R-P05 have their own services."""
    if code in _SPECIAL_CODES:
        raise ValueError(f"{code} is issued by penalties.services.{_SPECIAL_CODES[code]}")
    rule = rulebook.PENALTIES_BY_CODE[code]
    shop = _lock_shop(shop)
    compensation = (
        compensation_for(code=code, shop_kind=shop.kind, base=base_amount)
        if base_amount is not None and beneficiary is not None
        else (Decimal("0.00"), Penalty.Form.CASH)
    )
    return _create(
        shop=shop,
        rule=rule,
        source=source,
        actor=actor,
        points=rule.points_for(shop.kind) if points is None else points,
        compensation=compensation,
        order=order,
        beneficiary=beneficiary,
        deadline=deadline,
        note=note,
    )


@transaction.atomic
def penalty_issue_misdescription(
    *, shop: Shop, sku: str, severity: str, source: models.Model, actor, order=None, note: str = ""
) -> Penalty | None:
    """R-P04: the misdescription ladder for one item (shop + SKU) and situation (severity).

    Inside 3 days of the last deduction for the same item and situation nothing is deducted and the
    time is not counted: returns None (and says so on the source's timeline).
    """
    if severity not in rulebook.MISDESCRIPTION_LADDER:
        raise RuleViolation(
            f"severity must be one of {', '.join(rulebook.MISDESCRIPTION_SEVERITIES)}",
            field="severity",
            code="invalid_severity",
        )
    if not sku:
        raise RuleViolation("a misdescription penalty names the item's SKU", field="sku", code="sku_required")
    shop = _lock_shop(shop)
    now = timezone.now()
    same = Penalty.objects.filter(shop=shop, code=R_P04.code, sku=sku, severity=severity, status=Penalty.Status.ACTIVE)
    window = dt.timedelta(days=rulebook.MISDESCRIPTION_WINDOW_DAYS)
    last = same.filter(issued_at__gt=now - window).order_by("-issued_at").first()
    if last is not None:
        event_record(
            subject=source,
            action="penalty.not_counted",
            actor=actor,
            data={
                "rule": R_P04.id,
                "sku": sku,
                "severity": severity,
                "last_penalty": last.pk,
                "window_ends": timezone.localtime(last.issued_at + window).isoformat(),
            },
        )
        return None
    # The times are counted in the natural year (China time), as the points are (R-P10).
    start, end = year_bounds(natural_year(now))
    times = same.filter(issued_at__gte=start, issued_at__lt=end).count()
    ladder = rulebook.MISDESCRIPTION_LADDER[severity]
    points, item_action = ladder[min(times, len(ladder) - 1)]
    return _create(
        shop=shop,
        rule=R_P04,
        source=source,
        actor=actor,
        points=points,
        order=order,
        note=note,
        sku=sku,
        severity=severity,
        ladder_step=times + 1,
        item_action=item_action,
    )


@transaction.atomic
def penalty_issue_counterfeit(
    *,
    shop: Shop,
    source: models.Model,
    actor,
    sku: str = "",
    facilitation: str | None = None,
    order=None,
    note: str = "",
) -> Penalty:
    """R-P05: counterfeit (48 points, B class, the item deleted), or facilitating counterfeit
    (`facilitation` "normal" 2 or "serious" 12; no item action)."""
    if facilitation is None:
        if not sku:
            raise RuleViolation("a counterfeit penalty names the item's SKU", field="sku", code="sku_required")
        shop = _lock_shop(shop)
        return _create(
            shop=shop,
            rule=R_P05,
            source=source,
            actor=actor,
            points=R_P05.points_for(shop.kind),
            order=order,
            note=note,
            sku=sku,
            item_action=rulebook.COUNTERFEIT_ITEM_ACTION,
        )
    if facilitation not in rulebook.COUNTERFEIT_FACILITATION_POINTS:
        raise RuleViolation(
            f"facilitation must be one of {', '.join(rulebook.COUNTERFEIT_FACILITATION_POINTS)}",
            field="facilitation",
            code="invalid_facilitation",
        )
    shop = _lock_shop(shop)
    return _create(
        shop=shop,
        rule=R_P05,
        source=source,
        actor=actor,
        points=rulebook.COUNTERFEIT_FACILITATION_POINTS[facilitation],
        order=order,
        note=note,
        sku=sku,
        severity=f"facilitation_{facilitation}",
    )


@transaction.atomic
def penalty_issue_breach(
    *,
    shop: Shop,
    kind: str,
    source: models.Model,
    actor,
    order=None,
    beneficiary=None,
    invoice_amount: Decimal | None = None,
    description: str = "",
    note: str = "",
) -> Penalty:
    """R-P03: breach of promise and the like (6 points), with the obligation the seller must still
    perform, open until performed; a mall shop refusing an invoice also pays 30 % of its amount."""
    if kind not in rulebook.BREACH_OF_PROMISE_KINDS:
        raise RuleViolation(
            f"kind must be one of {', '.join(rulebook.BREACH_OF_PROMISE_KINDS)}", field="kind", code="invalid_kind"
        )
    shop = _lock_shop(shop)
    compensation: tuple[Decimal, str] = (Decimal("0.00"), Penalty.Form.CASH)
    if (
        kind == rulebook.INVOICE_OBLIGATION_KIND
        and shop.kind == rulebook.ShopKind.MALL
        and beneficiary is not None
        and invoice_amount is not None
        and invoice_amount > 0
    ):
        comp = rulebook.INVOICE_REFUSAL_MALL
        compensation = (_compensation_amount(comp, Decimal(invoice_amount)), comp.form)
    penalty = _create(
        shop=shop,
        rule=R_P03,
        source=source,
        actor=actor,
        points=R_P03.points_for(shop.kind),
        compensation=compensation,
        order=order,
        beneficiary=beneficiary,
        note=note,
        severity=kind,
    )
    obligation = Obligation.objects.create(
        penalty=penalty,
        shop=shop,
        order=order,
        kind=kind,
        description=(description or rulebook.BREACH_OF_PROMISE_KINDS[kind])[:300],
    )
    event_record(
        subject=obligation,
        action="obligation.opened",
        actor=actor,
        to_status=obligation.status,
        data={"rule": R_P03.id, "kind": kind, "penalty": penalty.pk},
    )
    notify(
        users=[shop.owner],
        kind="obligation.opened",
        title=f"违背承诺:须履行「{obligation.description}」(R-P03)",
        body=f"扣 {penalty.points} 分。履行之前此义务保持未完成。",
        subject=obligation,
    )
    return penalty


@transaction.atomic
def obligation_perform(*, obligation: Obligation, actor, note: str = "") -> Obligation:
    """R-P03: the seller performed what it had promised (refund, invoice, shipment …): closes it."""
    obligation = Obligation.objects.select_for_update().get(pk=obligation.pk)
    if obligation.status != Obligation.Status.OPEN:
        raise InvalidTransition("obligation", obligation.status, "perform", allowed_from=[Obligation.Status.OPEN])
    obligation.status = Obligation.Status.PERFORMED
    obligation.performed_at = timezone.now()
    obligation.performed_by = actor if actor is not None and getattr(actor, "pk", None) else None
    obligation.note = note[:300]
    obligation.save(update_fields=["status", "performed_at", "performed_by", "note"])
    event_record(
        subject=obligation,
        action="obligation.performed",
        actor=actor,
        from_status=Obligation.Status.OPEN,
        to_status=Obligation.Status.PERFORMED,
        data={"note": note} if note else {},
    )
    return obligation


@transaction.atomic
def penalty_revoke(*, penalty: Penalty, actor, reason: str) -> Penalty:
    """R-P12: give the points back, reverse the compensation, revert its item action, cancel its
    obligation and lift the sanctions no longer earned; who and why are recorded."""
    shop = _lock_shop(penalty.shop)
    penalty = Penalty.objects.select_for_update().get(pk=penalty.pk)
    if penalty.status != Penalty.Status.ACTIVE:
        raise InvalidTransition("penalty", penalty.status, "revoke", allowed_from=[Penalty.Status.ACTIVE])
    now = timezone.now()
    for movement in penalty.movements.filter(reason__startswith="compensation.").select_related("order", "shop"):
        ledger_reverse(movement=movement, reason="compensation.reversed", source=penalty, penalty=penalty)
    penalty.status = Penalty.Status.REVOKED
    penalty.revoked_at = now
    penalty.revoked_by = actor if actor is not None and getattr(actor, "pk", None) else None
    penalty.revoke_reason = reason[:300]
    penalty.save(update_fields=["status", "revoked_at", "revoked_by", "revoke_reason"])
    ItemAction.objects.filter(penalty=penalty, reverted_at__isnull=True).update(reverted_at=now)
    Obligation.objects.filter(penalty=penalty, status=Obligation.Status.OPEN).update(
        status=Obligation.Status.CANCELLED, note=f"penalty revoked: {reason}"[:300]
    )
    event_record(
        subject=penalty,
        action="penalty.revoked",
        actor=actor,
        from_status=Penalty.Status.ACTIVE,
        to_status=Penalty.Status.REVOKED,
        data={"reason": reason, "points_returned": penalty.points, "point_class": penalty.point_class},
    )
    notify(
        users=[penalty.shop.owner, penalty.beneficiary],
        kind="penalty.revoked",
        title=f"处罚已撤销 Penalty {penalty.code} revoked",
        body=reason,
        subject=penalty,
    )
    # R-P12 + R-P11: a sanction whose threshold the remaining points no longer reach was not earned.
    lifted_reason = f"penalty {penalty.pk} revoked: {reason}"
    for sanction in Sanction.objects.filter(
        shop=shop, point_class=penalty.point_class, year__gte=natural_year(penalty.issued_at)
    ).exclude(status=Sanction.Status.LIFTED):
        if shop_points(shop=shop, point_class=sanction.point_class, year=sanction.year) < sanction.threshold:
            sanction_lift(sanction=sanction, actor=actor, reason=lifted_reason)
    return penalty


# --- sanctions (R-P11) ---------------------------------------------------------------------------


def sanction_thresholds_reached(
    *, point_class: str, points: int, imposed: set[int]
) -> list[tuple[int, str, int | None]]:
    """R-P11: the thresholds `(points, kind, days)` of `point_class` that `points` reach and that are
    not in `imposed` (the thresholds already imposed, not lifted, this year). The one definition of
    when a sanction is earned, for the per-row check below and the sweeper's batches."""
    return [t for t in rulebook.sanction_thresholds(point_class) if points >= t[0] and t[0] not in imposed]


def sanction_terms(
    *, shop_id: int, penalty: Penalty, threshold: int, kind: str, days: int | None, points: int, year: int
) -> dict:
    """What imposing one R-P11 sanction writes, as plain values: the sanction's fields, its end
    deadline's (rule R-P11, or None), its audit event's data and its notice to the shop's owner."""
    starts_at = penalty.issued_at
    ends_at = starts_at + dt.timedelta(days=days) if days else None
    return {
        "sanction": {
            "shop_id": shop_id,
            "point_class": penalty.point_class,
            "threshold": threshold,
            "year": year,
            "kind": kind,
            "days": days,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "status": Sanction.Status.ACTIVE,
            "penalty_id": penalty.pk,
        },
        "end": {"start": starts_at, "due_at": ends_at, "amount": days, "unit": "days"} if ends_at else None,
        "event": {
            "rule": "R-P11",
            "kind": kind,
            "point_class": penalty.point_class,
            "threshold": threshold,
            "points": points,
            "year": year,
            "penalty": penalty.pk,
            "ends_at": timezone.localtime(ends_at).isoformat() if ends_at else None,
        },
        "title": f"{penalty.point_class} 类扣分累计 {points} 分,达到 {threshold} 分节点:{kind} (R-P11)",
        "body": f"至 {timezone.localtime(ends_at):%Y-%m-%d %H:%M}" if ends_at else "直至平台审核解除",
    }


def sanctions_check(*, shop: Shop, penalty: Penalty) -> list[Sanction]:
    """R-P11: record each threshold of the penalty's class that the year's points now reach, once per
    year (a lifted one may be earned again). The caller holds the shop's lock."""
    if penalty.points <= 0:
        return []
    year = natural_year(penalty.issued_at)
    points = shop_points(shop=shop, point_class=penalty.point_class, year=year)
    if not sanction_thresholds_reached(point_class=penalty.point_class, points=points, imposed=set()):
        return []
    imposed_thresholds = set(
        Sanction.objects.filter(shop=shop, point_class=penalty.point_class, year=year)
        .exclude(status=Sanction.Status.LIFTED)
        .values_list("threshold", flat=True)
    )
    imposed = []
    for threshold, kind, days in sanction_thresholds_reached(
        point_class=penalty.point_class, points=points, imposed=imposed_thresholds
    ):
        terms = sanction_terms(
            shop_id=shop.pk, penalty=penalty, threshold=threshold, kind=kind, days=days, points=points, year=year
        )
        sanction = Sanction.objects.create(**terms["sanction"])
        if terms["end"] is not None:
            deadline_schedule(subject=sanction, rule_id=R_P11_END.id, **terms["end"])
        event_record(
            subject=sanction, action="sanction.imposed", actor=None, to_status=sanction.status, data=terms["event"]
        )
        notify(users=[shop.owner], kind="sanction.imposed", title=terms["title"], body=terms["body"], subject=sanction)
        imposed.append(sanction)
    return imposed


@transaction.atomic
def sanction_lift(*, sanction: Sanction, actor, reason: str) -> Sanction:
    """R-P12: lift a sanction that is no longer earned (or that an arbitrator lifts); its end is cancelled."""
    sanction = Sanction.objects.select_for_update().get(pk=sanction.pk)
    if sanction.status == Sanction.Status.LIFTED:
        raise InvalidTransition(
            "sanction", sanction.status, "lift", allowed_from=[Sanction.Status.ACTIVE, Sanction.Status.ENDED]
        )
    from_status = sanction.status
    sanction.status = Sanction.Status.LIFTED
    sanction.lifted_at = timezone.now()
    sanction.lifted_by = actor if actor is not None and getattr(actor, "pk", None) else None
    sanction.lift_reason = reason[:300]
    sanction.save(update_fields=["status", "lifted_at", "lifted_by", "lift_reason"])
    deadline_cancel(subject=sanction, reason="sanction lifted", kinds=[R_P11_END.kind])
    event_record(
        subject=sanction,
        action="sanction.lifted",
        actor=actor,
        from_status=from_status,
        to_status=Sanction.Status.LIFTED,
        data={"rule": "R-P12", "reason": reason},
    )
    notify(
        users=[sanction.shop.owner],
        kind="sanction.lifted",
        title=f"处罚措施已解除 Sanction {sanction.kind} lifted",
        body=reason,
        subject=sanction,
    )
    return sanction


def sanction_end(*, deadline: Deadline, subject: Sanction) -> str:
    """R-P11 timeout action: the sanction has run its days (the sweeper holds the sanction's lock)."""
    if subject.status != Sanction.Status.ACTIVE:
        return f"noop: sanction is {subject.status}"
    subject.status = Sanction.Status.ENDED
    subject.ended_at = timezone.now()
    subject.save(update_fields=["status", "ended_at"])
    event_record(
        subject=subject,
        action="sanction.ended",
        actor=None,
        from_status=Sanction.Status.ACTIVE,
        to_status=Sanction.Status.ENDED,
        data={"rule": "R-P11", "deadline": deadline.pk},
    )
    return "ended"
