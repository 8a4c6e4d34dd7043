"""Complaint transitions (RULEBOOK §4, R-C01 … R-C05) and their clocks (R-T10, R-T11, R-T15, R-T18, R-T22).

A buyer complains about a seller's conduct; a seller claims against a buyer (malicious review,
extortion, harassment) through the same flow with the roles swapped. Lock order: the order, then the
complaint, then its case, then deadlines.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from core import rulebook
from core.calendar import compute_due
from core.errors import DomainError, InvalidTransition, RuleViolation
from core.services import event_record, notify
from orders.models import Order
from penalties import services as penalties

from ..engine import deadline_cancel, deadline_schedule
from ..models import Case, Complaint, Deadline
from ..selectors import parties_of
from .cases import case_close_withdrawn, case_open, case_refresh_next_due
from .citing import evidence_cite
from .refunds import after_sales_window_check

__all__ = [
    "COMPLAINT_TRANSITIONS",
    "complaint_appeal",
    "complaint_appeal_timeout",
    "complaint_dismiss",
    "complaint_file",
    "complaint_rebut",
    "complaint_rebuttal_timeout",
    "complaint_uphold",
    "complaint_withdraw",
]

CS = Complaint.Status
CT = Complaint.Type
OS = Order.Status
T = rulebook.TIMERS

COMPLAINT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "appeal": (CS.AWAITING_APPEAL,),
    "rebut": (CS.AWAITING_REBUTTAL,),
    "withdraw": (CS.AWAITING_APPEAL, CS.AWAITING_REBUTTAL, CS.IN_ARBITRATION),
}

# R-P03 conduct that is not a promise of its own: the type names the obligation.
_CONDUCT_AS_PROMISE: dict[str, str] = {
    CT.PRICE_RAISE: "price_raise",
    CT.FAKE_SHIPMENT: "fake_shipment",
    CT.AFTER_SALES_REFUSED: "after_sales_refused",
}


def _lock(complaint: Complaint) -> tuple[Complaint, Order]:
    order = (
        Order.objects.select_for_update(of=("self",)).select_related("shop", "shop__owner").get(pk=complaint.order_id)
    )
    complaint = (
        Complaint.objects.select_for_update(of=("self",))
        .select_related("shop", "shop__owner", "buyer")
        .get(pk=complaint.pk)
    )
    complaint.order = order
    return complaint, order


def _require(complaint: Complaint, action: str) -> None:
    allowed = COMPLAINT_TRANSITIONS[action]
    if complaint.status not in allowed:
        raise InvalidTransition("complaint", complaint.status, action, allowed_from=list(allowed))


def _side_users(complaint: Complaint, side: str) -> list:
    return parties_of(complaint)[side]


def _is_side(user, complaint: Complaint, side: str) -> bool:
    return user.is_superuser or any(u.pk == user.pk for u in _side_users(complaint, side))


def _event(complaint: Complaint, action: str, actor, before: str, data: dict | None = None) -> None:
    event_record(
        subject=complaint, action=action, actor=actor, from_status=before, to_status=complaint.status, data=data
    )


def _window_check(order: Order, type_: str, now) -> None:
    """R-T15 (after completion), R-T18 (unpaid orders, breach of promise only), R-T22 (seller claims)."""
    if type_ in Complaint.SELLER_CLAIM_TYPES:
        if order.status != OS.COMPLETED or order.completed_at is None:
            raise RuleViolation(
                "a seller's claim is filed on a completed order (R-T22)", code="order_not_completed", field="order"
            )
        # R-T22: 15 days from completion, or from the review when that came later.
        latest_review = order.reviews.order_by("-posted_at").values_list("posted_at", flat=True).first()
        start = max(order.completed_at, latest_review) if latest_review else order.completed_at
        closes, _ = compute_due(start, T["R-T22"].duration(), T["R-T22"].calendar)
        if now > closes:
            raise RuleViolation(
                f"the seller-claim window (R-T22) closed at {timezone.localtime(closes):%Y-%m-%d %H:%M:%S}",
                code="claim_window_closed",
                field="order",
            )
        return
    if order.paid_at is None:  # awaiting payment, or closed unpaid
        if type_ != CT.BREACH_OF_PROMISE:
            raise RuleViolation(
                "on an unpaid order only a breach of promise can be complained about (R-T18)",
                code="order_not_paid",
                field="type",
            )
        closes, _ = compute_due(order.created_at, T["R-T18"].duration(), T["R-T18"].calendar)
        if now > closes:
            raise RuleViolation(
                f"the unpaid-order complaint window (R-T18) closed at {timezone.localtime(closes):%Y-%m-%d %H:%M:%S}",
                code="complaint_window_closed",
                field="order",
            )
        return
    if type_ == CT.NOT_RECEIVED and order.status != OS.COMPLETED:
        raise RuleViolation(
            "not_received is for an order marked completed whose goods never arrived",
            code="order_not_completed",
            field="type",
        )
    after_sales_window_check(order, now)


def _item_sku(order: Order, sku: str) -> str:
    skus = list(order.items.values_list("sku", flat=True))
    if sku:
        if sku not in skus:
            raise RuleViolation(
                f"sku must be one of the order's items: {', '.join(skus)}", code="unknown_sku", field="sku"
            )
        return sku
    if len(set(skus)) == 1:
        return skus[0]
    raise RuleViolation("name the item (sku) the complaint is about", code="sku_required", field="sku")


@transaction.atomic
def complaint_file(
    *,
    actor,
    order: Order,
    type: str,
    description: str = "",
    severity: str = "",
    sku: str = "",
    promise_kind: str = "",
    invoice_amount: Decimal | None = None,
    contacted_first: bool | None = None,
    evidence: list | None = None,
) -> Complaint:
    """File a complaint (`awaiting_appeal`, R-T10 runs); a rule-type complaint is queued for
    arbitration at once (R-C02). A seller's claim against the buyer swaps the roles (R-T22)."""
    order = (
        Order.objects.select_for_update(of=("self",)).select_related("shop", "shop__owner", "buyer").get(pk=order.pk)
    )
    now = timezone.now()
    _window_check(order, type, now)
    if evidence and actor is not None:
        from evidence.selectors import evidence_validate_ids

        evidence_validate_ids(ids=[getattr(e, "pk", e) for e in evidence], user=actor, subject=None)
    complainant = Complaint.Party.SELLER if type in Complaint.SELLER_CLAIM_TYPES else Complaint.Party.BUYER
    if type == CT.MISDESCRIPTION:
        if severity not in rulebook.MISDESCRIPTION_LADDER:
            raise RuleViolation(
                f"a misdescription complaint names its severity: {', '.join(rulebook.MISDESCRIPTION_LADDER)}",
                code="severity_required",
                field="severity",
            )
    else:
        severity = ""
    if type in (CT.MISDESCRIPTION, CT.COUNTERFEIT):
        sku = _item_sku(order, sku)
    if type == CT.BREACH_OF_PROMISE:
        if promise_kind not in rulebook.BREACH_OF_PROMISE_KINDS:
            raise RuleViolation(
                f"promise_kind must be one of {', '.join(rulebook.BREACH_OF_PROMISE_KINDS)}",
                code="promise_kind_required",
                field="promise_kind",
            )
    elif type in _CONDUCT_AS_PROMISE:
        promise_kind = _CONDUCT_AS_PROMISE[type]
    else:
        promise_kind = ""
    if type in Complaint.RULE_TYPES:
        # R-C02: one rule-type complaint per order, never re-filed after withdrawal.
        if order.complaints.filter(type__in=Complaint.RULE_TYPES).exists():
            raise DomainError(
                "this order already has a rule-type complaint; it cannot be filed again (R-C02)",
                code="rule_complaint_exists",
            )
    elif order.complaints.filter(type=type).exclude(status__in=Complaint.TERMINAL).exists():
        raise DomainError(f"an open {type} complaint on this order exists already", code="open_complaint_exists")
    complaint = Complaint.objects.create(
        order=order,
        shop=order.shop,
        buyer=order.buyer,
        complainant=complainant,
        created_by=actor,
        type=type,
        severity=severity,
        sku=sku,
        promise_kind=promise_kind,
        invoice_amount=invoice_amount,
        contacted_first=contacted_first,
        description=description,
        created_at=now,
    )
    deadline_schedule(subject=complaint, rule_id="R-T10", start=now)
    evidence_ids = evidence_cite(ids=evidence, actor=actor, subject=complaint)
    event_record(
        subject=complaint,
        action="complaint.filed",
        actor=actor,
        to_status=complaint.status,
        data={"type": type, "severity": severity, "complainant": complainant, "evidence": evidence_ids},
    )
    if type in Complaint.RULE_TYPES:
        case_open(actor=actor, complaint=complaint, reason="rule-type complaint (R-C02)")
    accused = Complaint.Party.SELLER if complainant == Complaint.Party.BUYER else Complaint.Party.BUYER
    notify(
        users=_side_users(complaint, accused),
        kind="complaint.filed",
        title=f"订单 {order.pk} 收到投诉({complaint.get_type_display()}),请在 {T['R-T10'].duration()} 小时内申诉",
        body=T["R-T10"].words,
        subject=complaint,
    )
    return complaint


def _official_letters(evidence_ids: list[int]) -> list[int]:
    """The ids among `evidence_ids` that are carriers' official letters (R-C05)."""
    if not evidence_ids:
        return []
    try:
        model = apps.get_model("evidence", "Evidence")
    except LookupError:
        return []
    return list(model.objects.filter(pk__in=evidence_ids, kind="official_letter").values_list("pk", flat=True))


@transaction.atomic
def complaint_appeal(*, complaint: Complaint, actor, statement: str, evidence: list | None = None) -> Complaint:
    """The accused party answers within R-T10: `awaiting_rebuttal`; the complainant has R-T11.
    A carrier's official stop-shipping letter is recorded as the R-C05 defence to a late shipment."""
    complaint, _ = _lock(complaint)
    _require(complaint, "appeal")
    if not _is_side(actor, complaint, complaint.accused):
        raise DomainError("only the accused party appeals", code="not_the_accused")
    before = complaint.status
    now = timezone.now()
    evidence_ids = evidence_cite(ids=evidence, actor=actor, subject=complaint)
    complaint.status = CS.AWAITING_REBUTTAL
    complaint.appeal_statement = statement
    complaint.appealed_at = now
    fields = ["status", "appeal_statement", "appealed_at", "updated_at"]
    letters = _official_letters(evidence_ids) if complaint.type == CT.LATE_SHIPMENT else []
    if letters:
        complaint.defence = "official_letter"
        complaint.defence_evidence = letters
        fields += ["defence", "defence_evidence"]
    complaint.save(update_fields=fields)
    deadline_cancel(subject=complaint, kinds=[T["R-T10"].kind], reason="appealed", at=now)
    deadline_schedule(subject=complaint, rule_id="R-T11", start=now)
    _refresh_case(complaint)
    _event(complaint, "complaint.appealed", actor, before, {"evidence": evidence_ids, "defence": complaint.defence})
    notify(
        users=_side_users(complaint, complaint.complainant),
        kind="complaint.appealed",
        title=f"投诉 {complaint.pk}:对方已申诉,可在 {T['R-T11'].duration()} 小时内反驳",
        subject=complaint,
    )
    return complaint


def _to_arbitration(complaint: Complaint, *, actor, reason: str) -> None:
    complaint.status = CS.IN_ARBITRATION
    complaint.save(update_fields=["status", "updated_at"])
    deadline_cancel(subject=complaint, kinds=[T["R-T11"].kind], reason=reason)
    case = Case.objects.filter(complaint=complaint).first()
    if case is None:
        case_open(actor=actor, complaint=complaint, reason=reason)
    else:
        case_refresh_next_due(case)


@transaction.atomic
def complaint_rebut(*, complaint: Complaint, actor, statement: str, evidence: list | None = None) -> Complaint:
    """The complainant answers the appeal: the platform rules (`in_arbitration`)."""
    complaint, _ = _lock(complaint)
    _require(complaint, "rebut")
    if not _is_side(actor, complaint, complaint.complainant):
        raise DomainError("only the complainant rebuts", code="not_the_complainant")
    before = complaint.status
    complaint.rebuttal_statement = statement
    complaint.rebutted_at = timezone.now()
    complaint.save(update_fields=["rebuttal_statement", "rebutted_at", "updated_at"])
    evidence_ids = evidence_cite(ids=evidence, actor=actor, subject=complaint)
    _to_arbitration(complaint, actor=actor, reason="rebutted")
    _event(complaint, "complaint.rebutted", actor, before, {"evidence": evidence_ids})
    return complaint


@transaction.atomic
def complaint_withdraw(*, complaint: Complaint, actor) -> Complaint:
    """The complainant withdraws until the ruling (a rule-type complaint can never be filed again)."""
    complaint, _ = _lock(complaint)
    _require(complaint, "withdraw")
    if not _is_side(actor, complaint, complaint.complainant):
        raise DomainError("only the complainant withdraws", code="not_the_complainant")
    before = complaint.status
    now = timezone.now()
    complaint.status = CS.WITHDRAWN
    complaint.withdrawn_at = now
    complaint.save(update_fields=["status", "withdrawn_at", "updated_at"])
    deadline_cancel(subject=complaint, reason="withdrawn", at=now)
    case = Case.objects.filter(complaint=complaint).first()
    if case is not None:
        case_close_withdrawn(case=case, actor=actor)
    _event(complaint, "complaint.withdrawn", actor, before)
    notify(
        users=[*_side_users(complaint, complaint.accused)],
        kind="complaint.withdrawn",
        title=f"投诉 {complaint.pk} 已撤销",
        subject=complaint,
    )
    return complaint


def _refresh_case(complaint: Complaint) -> None:
    case = Case.objects.filter(complaint=complaint).first()
    if case is not None:
        case_refresh_next_due(case)


# --- outcomes (called by rulings and by R-T10) ---------------------------------------------------


def _penalise(complaint: Complaint, order: Order, *, actor, refund_amount: Decimal | None) -> dict[str, list]:
    """The consequences of an upheld buyer complaint, by type (RULEBOOK §4 → §5)."""
    effects: dict[str, list] = {"penalties": [], "movements": [], "refunds": []}
    shop, buyer, t = complaint.shop, complaint.buyer, complaint.type
    penalty = None
    if t == CT.LATE_SHIPMENT:
        # R-T01 may have penalised this order already: one late-shipment penalty per order.
        if not order.penalties.filter(code="r_p01", status="active").exists():
            penalty = penalties.penalty_issue(
                shop=shop,
                code="r_p01",
                source=complaint,
                actor=actor,
                order=order,
                beneficiary=buyer,
                base_amount=order.total_amount,
            )
    elif t == CT.OUT_OF_STOCK:
        penalty = penalties.penalty_issue(
            shop=shop,
            code="r_p02",
            source=complaint,
            actor=actor,
            order=order,
            beneficiary=buyer,
            base_amount=order.total_amount,
        )
    elif complaint.promise_kind:
        penalty = penalties.penalty_issue_breach(
            shop=shop,
            kind=complaint.promise_kind,
            source=complaint,
            actor=actor,
            order=order,
            beneficiary=buyer,
            invoice_amount=complaint.invoice_amount,
            description=complaint.description[:300],
        )
    elif t == CT.MISDESCRIPTION:
        penalty = penalties.penalty_issue_misdescription(
            shop=shop, sku=complaint.sku, severity=complaint.severity, source=complaint, actor=actor, order=order
        )
    elif t == CT.COUNTERFEIT:
        penalty = penalties.penalty_issue_counterfeit(
            shop=shop, sku=complaint.sku, source=complaint, actor=actor, order=order
        )
    elif t == CT.HARASSMENT:
        penalty = penalties.penalty_issue(shop=shop, code="r_p06", source=complaint, actor=actor, order=order)
    elif t == CT.LEAK_INFO:
        penalty = penalties.penalty_issue(shop=shop, code="r_p07", source=complaint, actor=actor, order=order)
    elif t == CT.NOT_RECEIVED:
        from .refunds import refund_record_ruled

        refund, movement = refund_record_ruled(
            order=order, actor=actor, amount=refund_amount, reason="not_delivered", source=complaint
        )
        if refund is not None and movement is not None:
            effects["refunds"].append(refund.pk)
            effects["movements"].append(movement.pk)
    if penalty is not None:
        effects["penalties"].append(penalty.pk)
        effects["movements"] += list(penalty.movements.values_list("pk", flat=True))
    return effects


def _seller_claim_upheld(complaint: Complaint, order: Order, *, now) -> list[int]:
    """§4 seller claims, upheld: the buyer's review of the order is hidden; the upheld claim is on the
    buyer's record (a risk signal, R-C06) and withdraws express refund for 90 days (R-F06) — both read
    from this complaint, no second bookkeeping."""
    from orders.models import Review

    hidden = list(order.reviews.filter(buyer=complaint.buyer, hidden_at__isnull=True).values_list("pk", flat=True))
    Review.objects.filter(pk__in=hidden).update(hidden_at=now, hidden_reason=f"seller claim {complaint.pk} upheld")
    days = int(rulebook.resolve(rulebook.SELLER_CLAIM_EXPRESS_BAN_DAYS))
    notify(
        users=[complaint.buyer],
        kind="complaint.seller_claim_upheld",
        title=f"卖家维权成立(投诉 {complaint.pk}):相关评价已隐藏,{days} 天内不享受极速退款",
        subject=complaint,
    )
    return hidden


def complaint_uphold(
    *,
    complaint: Complaint,
    order: Order,
    actor,
    penalise: bool = True,
    refund_amount: Decimal | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, list]:
    """The complaint is established (`upheld`): the accused seller's penalty and compensation, or, for
    a seller's claim, the consequences for the buyer. The caller holds the locks. Returns the effects."""
    before = complaint.status
    now = timezone.now()
    complaint.status = CS.UPHELD
    complaint.ruled_at = now
    complaint.save(update_fields=["status", "ruled_at", "updated_at"])
    deadline_cancel(subject=complaint, reason="ruled", at=now)
    effects: dict[str, list] = {"penalties": [], "movements": [], "refunds": []}
    if complaint.complainant == Complaint.Party.BUYER and penalise:
        effects = _penalise(complaint, order, actor=actor, refund_amount=refund_amount)
    elif complaint.complainant == Complaint.Party.SELLER:
        effects["reviews_hidden"] = _seller_claim_upheld(complaint, order, now=now)
    _event(complaint, "complaint.upheld", actor, before, {**(data or {}), "effects": effects})
    notify(
        users=[complaint.buyer, complaint.shop.owner],
        kind="complaint.upheld",
        title=f"投诉 {complaint.pk} 成立",
        subject=complaint,
    )
    return effects


def complaint_dismiss(*, complaint: Complaint, actor, data: dict[str, Any] | None = None) -> None:
    """The complaint is not established (`dismissed`). The caller holds the locks."""
    before = complaint.status
    now = timezone.now()
    complaint.status = CS.DISMISSED
    complaint.ruled_at = now
    complaint.save(update_fields=["status", "ruled_at", "updated_at"])
    deadline_cancel(subject=complaint, reason="ruled", at=now)
    _event(complaint, "complaint.dismissed", actor, before, data)
    notify(
        users=[complaint.buyer, complaint.shop.owner],
        kind="complaint.dismissed",
        title=f"投诉 {complaint.pk} 不成立",
        subject=complaint,
    )


# --- timeout actions ----------------------------------------------------------------------------


def complaint_appeal_timeout(*, deadline: Deadline, subject: Complaint) -> str:
    """R-T10: no appeal in 24 h: the complaint is upheld automatically and its penalty issued."""
    complaint, order = _lock(subject)
    if complaint.status != CS.AWAITING_APPEAL:
        return f"noop: complaint is {complaint.status}"
    case = Case.objects.filter(complaint=complaint).first()
    if case is not None:
        from .cases import case_rule_by_timeout

        case_rule_by_timeout(case=case, complaint=complaint, order=order, rule="R-T10")
        return "upheld (case ruled)"
    complaint_uphold(complaint=complaint, order=order, actor=None, data={"rule": "R-T10"})
    return "upheld"


def complaint_rebuttal_timeout(*, deadline: Deadline, subject: Complaint) -> str:
    """R-T11: the complainant did not rebut: the case goes to arbitration without it."""
    complaint, _ = _lock(subject)
    if complaint.status != CS.AWAITING_REBUTTAL:
        return f"noop: complaint is {complaint.status}"
    before = complaint.status
    _to_arbitration(complaint, actor=None, reason="no rebuttal (R-T11)")
    _event(complaint, "complaint.rebuttal_missing", None, before, {"rule": "R-T11"})
    return "in_arbitration"
