"""Platform cases (客服介入 / 仲裁): the queue, assignment, notes, evidence requests (R-T13), the SLA
(R-T12), suspension (R-T19), rulings with every consequence (R-C03, §8), and their review (R-T20).

Lock order: the order, then the refund or complaint, then the case, then deadlines.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from core import rulebook
from core.errors import DomainError, Forbidden, InvalidTransition, RuleViolation
from core.roles import Role, has_role
from core.services import event_record, notify
from orders.models import Order
from penalties import services as penalties
from penalties.models import LedgerMovement, Penalty

from ..engine import deadline_cancel, deadline_schedule, deadlines_pause, deadlines_resume
from ..models import Case, CaseNote, CaseReview, Complaint, Deadline, EvidenceRequest, Refund
from ..selectors import parties_of

__all__ = [
    "case_advance_settle",
    "case_assign",
    "case_close_withdrawn",
    "case_evidence_received",
    "case_evidence_received_for",
    "case_evidence_request_timeout",
    "case_note_add",
    "case_open",
    "case_record_agreement",
    "case_refresh_next_due",
    "case_request_evidence",
    "case_request_review",
    "case_resume",
    "case_review_decide",
    "case_review_window_timeout",
    "case_rule",
    "case_rule_by_timeout",
    "case_sla_timeout",
    "case_suspend",
    "case_suspension_timeout",
]

T = rulebook.TIMERS
R_T12 = T["R-T12"]
CS = Case.Status
BUYER, SELLER = "buyer", "seller"
OUTCOMES = ("buyer_wins", "seller_wins", "partial")
RESPONSIBILITIES = ("buyer", "seller", "logistics", "platform")
EVIDENCE_REQUEST_HOURS = (24, 7 * 24)  # R-T13: the agent may choose 24 h – 7 days


# --- helpers ------------------------------------------------------------------------------------


def _lock(case: Case) -> tuple[Case, Refund | Complaint, Order]:
    order = Order.objects.select_for_update(of=("self",)).select_related("shop", "shop__owner").get(pk=case.order_id)
    subject: Refund | Complaint
    if case.refund_id is not None:
        subject = Refund.objects.select_for_update(of=("self",)).select_related("shop", "buyer").get(pk=case.refund_id)
    else:
        subject = (
            Complaint.objects.select_for_update(of=("self",))
            .select_related("shop", "buyer")
            .get(pk=case.complaint_id or 0)
        )
    subject.order = order
    case = Case.objects.select_for_update(of=("self",)).select_related("shop", "buyer", "assignee").get(pk=case.pk)
    return case, subject, order


def _party_of(user, case: Case) -> str | None:
    for side, users in parties_of(case).items():
        if any(u.pk == user.pk for u in users):
            return side
    return None


def _event(case: Case, action: str, actor, before: str, data: dict | None = None) -> None:
    event_record(subject=case, action=action, actor=actor, from_status=before, to_status=case.status, data=data)


def _not_ruled(case: Case, action: str) -> None:
    if case.status == CS.RULED:
        raise InvalidTransition(
            "case", case.status, action, allowed_from=[CS.OPEN, CS.AWAITING_EVIDENCE, CS.UNDER_REVIEW]
        )


def _working_status(case: Case) -> str:
    """Where a case rests when nothing is awaited: with its assignee, or back in the open queue."""
    if case.evidence_requests.filter(status=EvidenceRequest.Status.OPEN).exists():
        return CS.AWAITING_EVIDENCE
    return CS.UNDER_REVIEW if case.assignee_id else CS.OPEN


def case_refresh_next_due(case: Case) -> None:
    """Keep the queue's sort key: the nearest running deadline of the case or of its subject."""
    subject_q = (
        Q(subject_kind="refund", subject_id=case.refund_id)
        if case.refund_id
        else Q(subject_kind="complaint", subject_id=case.complaint_id)
    )
    nearest = Deadline.objects.filter(
        Q(subject_kind="case", subject_id=case.pk) | subject_q,
        status=Deadline.Status.PENDING,
        paused_at__isnull=True,
    ).aggregate(m=Min("due_at"))["m"]
    Case.objects.filter(pk=case.pk).update(next_due_at=nearest)
    case.next_due_at = nearest


# --- opening and closing ------------------------------------------------------------------------


def case_open(*, actor, refund: Refund | None = None, complaint: Complaint | None = None, reason: str = "") -> Case:
    """The platform takes over a refund or complaint: a Case in `open`, with its SLA clock (R-T12).

    The caller holds the subject's lock.
    """
    subject = refund if refund is not None else complaint
    assert subject is not None
    case = Case.objects.create(
        kind=Case.Kind.REFUND if refund is not None else Case.Kind.COMPLAINT,
        refund=refund,
        complaint=complaint,
        order=subject.order,
        shop=subject.shop,
        buyer=subject.buyer,
        opened_by=actor if getattr(actor, "pk", None) else None,
    )
    # R-T12: 5 working days; 7 when the goods never arrived.
    not_received = (complaint is not None and complaint.type == Complaint.Type.NOT_RECEIVED) or (
        refund is not None and refund.reason == "not_delivered"
    )
    deadline_schedule(
        subject=case, rule_id=R_T12.id, start=case.opened_at, variant="not_received" if not_received else None
    )
    case_refresh_next_due(case)
    from evidence.services import evidence_status_refresh

    evidence_status_refresh(subject=case)  # the queue sorts on completeness (§7)
    event_record(
        subject=case,
        action="case.opened",
        actor=actor,
        to_status=case.status,
        data={"kind": case.kind, "subject": f"{subject._meta.model_name}:{subject.pk}", "reason": reason},
    )
    return case


def case_close_withdrawn(*, case: Case, actor) -> None:
    """The complainant withdrew: the case ends (`ruled`, outcome `withdrawn`). Caller holds the subject lock."""
    case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
    if case.status == CS.RULED:
        return
    before = case.status
    case.status = CS.RULED
    case.outcome = "withdrawn"
    case.ruled_at = timezone.now()
    case.next_due_at = None
    case.save(update_fields=["status", "outcome", "ruled_at", "next_due_at", "updated_at"])
    deadline_cancel(subject=case, reason="withdrawn")
    case.evidence_requests.filter(status=EvidenceRequest.Status.OPEN).update(
        status=EvidenceRequest.Status.CANCELLED, closed_at=timezone.now()
    )
    _event(case, "case.withdrawn", actor, before)


# --- working the case ---------------------------------------------------------------------------


@transaction.atomic
def case_assign(*, case: Case, actor, assignee) -> Case:
    """Give the case to an agent or arbitrator; an open case goes `under_review`."""
    case, _, _ = _lock(case)
    _not_ruled(case, "assign")
    if not has_role(assignee, Role.AGENT, Role.ARBITRATOR):
        raise RuleViolation("the assignee must be an agent or an arbitrator", code="invalid_assignee", field="assignee")
    before = case.status
    previous = case.assignee_id
    case.assignee = assignee
    if case.status == CS.OPEN:
        case.status = CS.UNDER_REVIEW
    case.save(update_fields=["assignee", "status", "updated_at"])
    _event(case, "case.assigned", actor, before, {"assignee": assignee.pk, "previous": previous})
    if assignee.pk != actor.pk:
        notify(users=[assignee], kind="case.assigned", title=f"案件 {case.pk} 已分配给你", subject=case)
    return case


@transaction.atomic
def case_note_add(*, case: Case, actor, body: str) -> CaseNote:
    """An internal note (备注): platform staff only, never shown to buyer or seller (RULEBOOK §10)."""
    case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
    note = CaseNote.objects.create(case=case, author=actor, body=body)
    # The event carries the note's id only: its body stays in the staff-only notes table.
    _event(case, "case.note_added", actor, case.status, {"note": note.pk})
    return note


@transaction.atomic
def case_request_evidence(
    *, case: Case, actor, party: str, note: str = "", hours: int | None = None
) -> EvidenceRequest:
    """Ask one party for evidence by a deadline (R-T13, default 72 h, 24 h – 7 days): `awaiting_evidence`."""
    case, _, _ = _lock(case)
    _not_ruled(case, "request evidence on")
    if party not in (BUYER, SELLER):
        raise RuleViolation("party must be buyer or seller", code="invalid_party", field="party")
    hours = T["R-T13"].duration() if hours is None else hours
    low, high = EVIDENCE_REQUEST_HOURS
    if not low <= hours <= high:
        raise RuleViolation(f"hours must be between {low} and {high} (R-T13)", code="invalid_hours", field="hours")
    before = case.status
    now = timezone.now()
    deadline = deadline_schedule(subject=case, rule_id="R-T13", start=now, amount=hours)
    request = EvidenceRequest.objects.create(
        case=case, party=party, note=note, hours=hours, requested_by=actor, deadline=deadline
    )
    case.status = CS.AWAITING_EVIDENCE
    case.save(update_fields=["status", "updated_at"])
    case_refresh_next_due(case)
    _event(case, "case.evidence_requested", actor, before, {"party": party, "hours": hours, "request": request.pk})
    notify(
        users=parties_of(case)[party],
        kind="case.evidence_requested",
        title=f"平台请你在 {timezone.localtime(deadline.due_at):%m-%d %H:%M} 前提交凭证(案件 {case.pk})",
        body=note,
        subject=case,
    )
    return request


def case_evidence_received(*, case: Case, party: str, actor, evidence_ids: list[int] | None = None) -> int:
    """A party submitted evidence to the case: its open requests are fulfilled. Returns how many."""
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        requests = list(case.evidence_requests.filter(status=EvidenceRequest.Status.OPEN, party=party))
        if not requests:
            return 0
        now = timezone.now()
        for request in requests:
            request.status = EvidenceRequest.Status.FULFILLED
            request.closed_at = now
            request.save(update_fields=["status", "closed_at"])
            if request.deadline_id:
                Deadline.objects.filter(pk=request.deadline_id, status=Deadline.Status.PENDING).update(
                    status=Deadline.Status.CANCELLED, cancelled_at=now, cancel_reason="evidence received"
                )
        before = case.status
        if case.status == CS.AWAITING_EVIDENCE:
            case.status = _working_status(case)
            case.save(update_fields=["status", "updated_at"])
        case_refresh_next_due(case)
        _event(case, "case.evidence_received", actor, before, {"party": party, "evidence": evidence_ids or []})
        return len(requests)


def case_evidence_received_for(*, subject, party: str, actor, evidence_ids: list[int]) -> int:
    """Evidence from `party` arrived on a case, or on the refund or complaint of an open case."""
    case: Case | None
    if isinstance(subject, Case):
        case = subject
    elif isinstance(subject, Refund):
        case = Case.objects.filter(refund=subject).first()
    else:
        case = Case.objects.filter(complaint=subject).first()
    if case is None or case.status == CS.RULED or party not in (BUYER, SELLER):
        return 0
    return case_evidence_received(case=case, party=party, actor=actor, evidence_ids=evidence_ids)


def case_evidence_request_timeout(*, deadline: Deadline, subject: Case) -> str:
    """R-T13: the party stayed silent; the case proceeds without it and the silence is on the timeline."""
    request = EvidenceRequest.objects.filter(deadline=deadline).first()
    if request is None or request.status != EvidenceRequest.Status.OPEN:
        return "noop: request closed"
    request.status = EvidenceRequest.Status.EXPIRED
    request.closed_at = timezone.now()
    request.save(update_fields=["status", "closed_at"])
    before = subject.status
    if subject.status == CS.AWAITING_EVIDENCE:
        subject.status = _working_status(subject)
        subject.save(update_fields=["status", "updated_at"])
    case_refresh_next_due(subject)
    _event(subject, "case.evidence_not_provided", None, before, {"party": request.party, "rule": "R-T13"})
    return f"{request.party} silent"


def case_sla_timeout(*, deadline: Deadline, subject: Case) -> str:
    """R-T12 ran out: the case is flagged overdue and goes to the head of the arbitrator queue."""
    if subject.status == CS.RULED:
        return "noop: already ruled"
    subject.overdue = True
    subject.save(update_fields=["overdue", "updated_at"])
    _event(subject, "case.overdue", None, subject.status, {"rule": R_T12.id, "due_at": deadline.due_at.isoformat()})
    if subject.assignee_id:
        notify(
            users=[subject.assignee],
            kind="case.overdue",
            title=f"案件 {subject.pk} 已超过处理时限 (R-T12)",
            body=R_T12.words,
            subject=subject,
        )
    case_refresh_next_due(subject)
    return f"overdue at {timezone.localtime(deadline.due_at):%Y-%m-%d %H:%M}"


# --- suspension (R-T19) --------------------------------------------------------------------------


@transaction.atomic
def case_suspend(*, case: Case, actor, reason: str) -> Case:
    """R-T19: every clock of the case and its subject stops with the time it had left; resumes by
    itself after the suspension period (decision, 30 days) unless resumed earlier."""
    case, subject, _ = _lock(case)
    _not_ruled(case, "suspend")
    if case.suspended_at is not None:
        raise DomainError("the case is already suspended", code="already_suspended")
    now = timezone.now()
    paused = deadlines_pause(subjects=[case, subject], at=now)
    case.suspended_at = now
    case.save(update_fields=["suspended_at", "updated_at"])
    deadline_schedule(subject=case, rule_id="R-T19", start=now)
    case_refresh_next_due(case)
    _event(case, "case.suspended", actor, case.status, {"reason": reason, "clocks_paused": paused})
    return case


def _resume(case: Case, subject, *, actor, reason: str) -> None:
    now = timezone.now()
    resumed = deadlines_resume(subjects=[case, subject], at=now)
    deadline_cancel(subject=case, kinds=[T["R-T19"].kind], reason="resumed", at=now)
    case.suspended_at = None
    case.save(update_fields=["suspended_at", "updated_at"])
    case_refresh_next_due(case)
    _event(case, "case.resumed", actor, case.status, {"reason": reason, "clocks_resumed": resumed})


@transaction.atomic
def case_resume(*, case: Case, actor, reason: str) -> Case:
    """R-T19: every paused clock runs again with exactly the time it had left."""
    case, subject, _ = _lock(case)
    if case.suspended_at is None:
        raise DomainError("the case is not suspended", code="not_suspended")
    _resume(case, subject, actor=actor, reason=reason)
    return case


def case_suspension_timeout(*, deadline: Deadline, subject: Case) -> str:
    """R-T19: the suspension period ended: the clocks resume by themselves."""
    case, refund_or_complaint, _ = _lock(subject)
    if case.suspended_at is None:
        return "noop: not suspended"
    _resume(case, refund_or_complaint, actor=None, reason="suspension period ended (R-T19)")
    return "resumed"


# --- R-C03 prior agreement -----------------------------------------------------------------------


@transaction.atomic
def case_record_agreement(*, case: Case, actor, terms: str, favours: str) -> Case:
    """R-C03: what the parties agreed before the trade. Recorded, it is shown first and decides the case."""
    case = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
    _not_ruled(case, "record an agreement on")
    if favours not in (BUYER, SELLER):
        raise RuleViolation("favours must be buyer or seller", code="invalid_party", field="favours")
    case.prior_agreement = terms
    case.agreement_favours = favours
    case.agreement_recorded_by = actor
    case.save(update_fields=["prior_agreement", "agreement_favours", "agreement_recorded_by", "updated_at"])
    _event(case, "case.agreement_recorded", actor, case.status, {"favours": favours, "rule": "R-C03"})
    return case


# --- rulings --------------------------------------------------------------------------------------


def _refund_money(
    case: Case, refund: Refund, order: Order, *, outcome: str, responsibility: str, amount: Decimal, advance: bool
) -> list[int]:
    """Move the money of a refund ruling; returns the movement ids. What the buyer receives equals what
    the seller or the platform pays (§8: an advance is paid by the platform fund and frozen on the seller)."""
    shop, buyer = refund.shop, refund.buyer
    payer = penalties.account_shop(shop) if responsibility == SELLER else penalties.PLATFORM_FUND
    moves: list[LedgerMovement] = []

    def move(debit: str, credit: str, value: Decimal, reason: str) -> None:
        if value > 0:
            moves.append(
                penalties.ledger_transfer(
                    debit=debit, credit=credit, amount=value, reason=reason, source=case, order=order, shop=shop
                )
            )

    buyer_acc = penalties.account_buyer(buyer)
    if refund.express:
        advanced = refund.amount  # R-F06: the platform already paid this to the buyer
        if outcome == "seller_wins":
            move(buyer_acc, penalties.PLATFORM_FUND, advanced, "ruling.express_recovered_from_buyer")
        else:
            if payer != penalties.PLATFORM_FUND:
                move(payer, penalties.PLATFORM_FUND, amount, "ruling.express_recovered")
            move(buyer_acc, penalties.PLATFORM_FUND, advanced - amount, "ruling.express_excess_returned")
    elif outcome != "seller_wins":
        if advance:
            move(penalties.PLATFORM_FUND, buyer_acc, amount, "ruling.advance_payment")
            if payer != penalties.PLATFORM_FUND:
                move(payer, penalties.account_frozen(shop), amount, "ruling.advance_frozen")
        else:
            move(payer, buyer_acc, amount, "ruling.refund")
    return [m.pk for m in moves]


def _apply(
    case: Case,
    subject,
    order: Order,
    *,
    actor,
    outcome: str,
    responsibility: str,
    amount: Decimal | None,
    advance: bool,
) -> dict[str, Any]:
    """Carry out a ruling on the subject. Returns what it did (for the case, and for a review to undo)."""
    from .complaints import complaint_dismiss, complaint_uphold
    from .refunds import refund_mark_closed, refund_mark_refunded

    effects: dict[str, Any] = {"outcome": outcome, "penalties": [], "movements": [], "refunds": []}
    if isinstance(subject, Refund):
        effects["subject_status_before"] = subject.status
        if outcome == "seller_wins":
            effects["movements"] = _refund_money(
                case, subject, order, outcome=outcome, responsibility=responsibility, amount=Decimal(0), advance=False
            )
            refund_mark_closed(
                refund=subject, order=order, actor=actor, reason="ruled for the seller", action="refund.ruled"
            )
        else:
            assert amount is not None
            effects["movements"] = _refund_money(
                case, subject, order, outcome=outcome, responsibility=responsibility, amount=amount, advance=advance
            )
            refund_mark_refunded(
                refund=subject,
                order=order,
                amount=amount,
                actor=actor,
                action="refund.ruled",
                data={"case": case.pk, "outcome": outcome},
            )
        return effects
    complaint: Complaint = subject
    effects["subject_status_before"] = complaint.status
    complainant_wins = (outcome != "seller_wins") == (complaint.complainant == Complaint.Party.BUYER)
    if complainant_wins:
        done = complaint_uphold(
            complaint=complaint,
            order=order,
            actor=actor,
            # Penalties follow responsibility: a carrier's or the platform's fault costs the seller nothing.
            penalise=responsibility == SELLER,
            refund_amount=amount,
            data={"case": case.pk, "outcome": outcome},
        )
        effects.update(done)
    else:
        complaint_dismiss(complaint=complaint, actor=actor, data={"case": case.pk, "outcome": outcome})
    return effects


def _finish_ruling(
    case: Case, *, actor, outcome: str, responsibility: str, note: str, amount, advance, effects
) -> None:
    now = timezone.now()
    before = case.status
    case.status = CS.RULED
    case.ruled_at = now
    case.ruled_by = actor if getattr(actor, "pk", None) else None
    case.outcome = outcome
    case.responsibility = responsibility
    case.ruling_note = note
    case.refund_amount = amount
    case.advance_payment = advance
    case.ruling_effects = effects
    case.save()
    deadline_cancel(subject=case, reason="ruled", at=now)
    case.evidence_requests.filter(status=EvidenceRequest.Status.OPEN).update(
        status=EvidenceRequest.Status.CANCELLED, closed_at=now
    )
    deadline_schedule(subject=case, rule_id="R-T20", start=now)
    case_refresh_next_due(case)
    _event(
        case,
        "case.ruled",
        actor,
        before,
        {
            "outcome": outcome,
            "responsibility": responsibility,
            "refund_amount": str(amount) if amount is not None else None,
            "advance_payment": advance,
            "effects": effects,
        },
    )
    people = parties_of(case)
    notify(
        users=[*people[BUYER], *people[SELLER]],
        kind="case.ruled",
        title=f"案件 {case.pk} 已裁决:{outcome}",
        body=f"{note}\n可在 {T['R-T20'].duration()} 天内提供新证据申请复核一次 (R-T20)",
        subject=case,
    )


def _ruling_amount(subject, order: Order, outcome: str, refund_amount: Decimal | None) -> Decimal | None:
    if outcome == "seller_wins":
        return None
    if isinstance(subject, Refund):
        requested = subject.amount
        if outcome == "partial":
            if refund_amount is None or not Decimal("0") < refund_amount < requested:
                raise RuleViolation(
                    f"a partial ruling names a refund_amount above 0.00 and below the {requested} requested",
                    code="invalid_refund_amount",
                    field="refund_amount",
                )
            return refund_amount
        amount = requested if refund_amount is None else refund_amount
        if not Decimal("0") < amount <= requested:
            raise RuleViolation(
                f"refund_amount must be above 0.00 and at most the {requested} requested",
                code="invalid_refund_amount",
                field="refund_amount",
            )
        return amount
    return refund_amount


@transaction.atomic
def case_rule(
    *,
    case: Case,
    actor,
    outcome: str,
    responsibility: str,
    note: str = "",
    refund_amount: Decimal | None = None,
    advance_payment: bool = False,
    override_agreement: bool = False,
) -> Case:
    """The arbitrator's ruling, atomic and complete: the refund executed or closed, the complaint upheld
    or dismissed, penalties and compensation, an advance payment with its freeze (§8), notifications
    to both parties, events. A recorded prior agreement decides (R-C03) unless expressly overridden."""
    case, subject, order = _lock(case)
    _not_ruled(case, "rule")
    if case.suspended_at is not None:
        raise DomainError("resume the suspended case before ruling (R-T19)", code="case_suspended")
    if outcome not in OUTCOMES:
        raise RuleViolation(f"outcome must be one of {', '.join(OUTCOMES)}", code="invalid_outcome", field="outcome")
    if responsibility not in RESPONSIBILITIES:
        raise RuleViolation(
            f"responsibility must be one of {', '.join(RESPONSIBILITIES)}",
            code="invalid_responsibility",
            field="responsibility",
        )
    if outcome != "seller_wins" and responsibility == BUYER and isinstance(subject, Refund):
        raise RuleViolation(
            "the buyer cannot win a refund that is the buyer's responsibility",
            code="inconsistent_ruling",
            field="responsibility",
        )
    if case.agreement_favours and not override_agreement:
        favoured = SELLER if outcome == "seller_wins" else BUYER
        if favoured != case.agreement_favours:
            raise DomainError(
                f"the parties' prior agreement favours the {case.agreement_favours} (R-C03); "
                "follow it or override it with a note",
                code="contradicts_prior_agreement",
            )
    if advance_payment and (not isinstance(subject, Refund) or outcome == "seller_wins" or subject.express):
        raise RuleViolation(
            "an advance payment goes with a refund the buyer wins, not already advanced (§8)",
            code="advance_not_applicable",
            field="advance_payment",
        )
    amount = _ruling_amount(subject, order, outcome, refund_amount)
    effects = _apply(
        case,
        subject,
        order,
        actor=actor,
        outcome=outcome,
        responsibility=responsibility,
        amount=amount,
        advance=advance_payment,
    )
    _finish_ruling(
        case,
        actor=actor,
        outcome=outcome,
        responsibility=responsibility,
        note=note,
        amount=amount,
        advance=advance_payment,
        effects=effects,
    )
    return case


def case_rule_by_timeout(*, case: Case, complaint: Complaint, order: Order, rule: str) -> None:
    """R-T10 on a queued rule-type complaint: the silence rules for the complainant. Caller holds locks."""
    case = Case.objects.select_for_update(of=("self",)).select_related("shop", "buyer").get(pk=case.pk)
    outcome = "buyer_wins" if complaint.complainant == Complaint.Party.BUYER else "seller_wins"
    effects = _apply(
        case,
        complaint,
        order,
        actor=None,
        outcome=outcome,
        responsibility=SELLER if outcome == "buyer_wins" else BUYER,
        amount=None,
        advance=False,
    )
    _finish_ruling(
        case,
        actor=None,
        outcome=outcome,
        responsibility=SELLER if outcome == "buyer_wins" else BUYER,
        note=f"no appeal in time ({rule})",
        amount=None,
        advance=False,
        effects=effects,
    )


# --- review (R-T20) -------------------------------------------------------------------------------


@transaction.atomic
def case_request_review(*, case: Case, actor, statement: str, evidence: list[int]) -> CaseReview:
    """R-T20: one request per party within 7 days of the ruling, only with new evidence."""
    case, _, _ = _lock(case)
    party = _party_of(actor, case)
    if party is None:
        raise Forbidden("only the buyer or the seller of the case requests a review", code="not_a_party")
    if case.status == CS.UNDER_REVIEW and case.reviews.filter(status=CaseReview.Status.PENDING).exists():
        pass  # the other party may still ask while one review is pending
    elif case.status != CS.RULED or case.outcome == "withdrawn":
        raise InvalidTransition("case", case.status, "request a review of", allowed_from=[CS.RULED])
    window = Deadline.objects.filter(subject_kind="case", subject_id=case.pk, kind=T["R-T20"].kind).first()
    now = timezone.now()
    if window is None or now > window.due_at:
        raise DomainError("the ruling is final: the review window (R-T20) has closed", code="review_window_closed")
    if case.reviews.filter(party=party).exists():
        raise DomainError("each party may request one review (R-T20)", code="review_already_requested")
    from .citing import evidence_cite

    new_evidence = _new_evidence(case, evidence_cite(ids=evidence, actor=actor, subject=case))
    if not new_evidence:
        raise RuleViolation(
            "a review needs new evidence, submitted after the ruling (R-T20)",
            code="new_evidence_required",
            field="evidence",
        )
    review = CaseReview.objects.create(
        case=case, party=party, requested_by=actor, statement=statement, evidence=new_evidence
    )
    before = case.status
    case.status = CS.UNDER_REVIEW
    case.save(update_fields=["status", "updated_at"])
    _event(
        case, "case.review_requested", actor, before, {"party": party, "review": review.pk, "evidence": new_evidence}
    )
    return review


def _new_evidence(case: Case, evidence: list[int]) -> list[int]:
    """The given evidence ids that this case's parties submitted after the ruling."""
    if not evidence:
        return []
    from django.apps import apps

    try:
        model = apps.get_model("evidence", "Evidence")
    except LookupError:
        return []
    subject_q = Q(case=case)
    if case.refund_id:
        subject_q |= Q(refund_id=case.refund_id)
    if case.complaint_id:
        subject_q |= Q(complaint_id=case.complaint_id)
    return list(
        model.objects.filter(subject_q, pk__in=evidence, submitted_at__gt=case.ruled_at).values_list("pk", flat=True)
    )


def _undo(case: Case, *, actor, reason: str) -> None:
    """Take back what a ruling did: its penalties revoked, its money moved back."""
    effects = case.ruling_effects or {}
    for penalty in Penalty.objects.filter(pk__in=effects.get("penalties", []), status=Penalty.Status.ACTIVE):
        penalties.penalty_revoke(penalty=penalty, actor=actor, reason=reason)
    for movement in (
        LedgerMovement.objects.filter(pk__in=effects.get("movements", []))
        .exclude(reason__startswith="compensation.")
        .select_related("order", "shop")
    ):
        penalties.ledger_reverse(movement=movement, reason="ruling.reversed", source=case)
    Refund.objects.filter(pk__in=effects.get("refunds", [])).update(
        status=Refund.Status.CLOSED, closed_at=timezone.now(), close_reason="ruling reversed"
    )


@transaction.atomic
def case_review_decide(*, review: CaseReview, actor, decision: str, note: str = "") -> CaseReview:
    """R-T20: a different arbitrator upholds the ruling or reverses it with its penalties and money."""
    case, subject, order = _lock(review.case)
    review = CaseReview.objects.select_for_update().get(pk=review.pk)
    if review.status != CaseReview.Status.PENDING:
        raise InvalidTransition("review", review.status, "decide", allowed_from=[CaseReview.Status.PENDING])
    if case.ruled_by_id is not None and case.ruled_by_id == actor.pk:
        raise Forbidden("a review is decided by a different arbitrator than the first ruling", code="same_arbitrator")
    if decision not in (CaseReview.Status.UPHELD, CaseReview.Status.REVERSED):
        raise RuleViolation("decision must be upheld or reversed", code="invalid_decision", field="decision")
    now = timezone.now()
    review.status = decision
    review.decided_by = actor
    review.decision_note = note
    review.decided_at = now
    review.save(update_fields=["status", "decided_by", "decision_note", "decided_at"])
    before = case.status
    data: dict[str, Any] = {"review": review.pk, "decision": decision}
    if decision == CaseReview.Status.REVERSED:
        old_outcome = case.outcome
        _undo(case, actor=actor, reason=f"ruling reversed on review {review.pk}")
        new_outcome = "seller_wins" if old_outcome in ("buyer_wins", "partial") else "buyer_wins"
        # The subject returns to where the ruling found it, then the opposite ruling is carried out.
        if isinstance(subject, Refund):
            subject.status = Refund.Status.IN_ARBITRATION
            subject.refunded_amount = Decimal("0.00")
            subject.save(update_fields=["status", "refunded_amount", "updated_at"])
        else:
            subject.status = Complaint.Status.IN_ARBITRATION
            subject.save(update_fields=["status", "updated_at"])
        responsibility = SELLER if new_outcome == "buyer_wins" else BUYER
        amount = subject.amount if isinstance(subject, Refund) and new_outcome == "buyer_wins" else None
        effects = _apply(
            case,
            subject,
            order,
            actor=actor,
            outcome=new_outcome,
            responsibility=responsibility,
            amount=amount,
            advance=False,
        )
        case.outcome = new_outcome
        case.responsibility = responsibility
        case.refund_amount = amount
        case.ruling_effects = {**effects, "reversed": case.ruling_effects}
        data.update({"from": old_outcome, "to": new_outcome, "effects": effects})
    case.status = CS.UNDER_REVIEW if case.reviews.filter(status=CaseReview.Status.PENDING).exists() else CS.RULED
    case.save()
    _event(case, "case.review_decided", actor, before, data)
    people = parties_of(case)
    notify(
        users=[*people[BUYER], *people[SELLER]],
        kind="case.review_decided",
        title=f"案件 {case.pk} 复核结果:{'维持原裁决' if decision == 'upheld' else '改判'}",
        body=note,
        subject=case,
    )
    _settle_if_final(case)
    return review


def _settle_if_final(case: Case) -> None:
    window = Deadline.objects.filter(subject_kind="case", subject_id=case.pk, kind=T["R-T20"].kind).first()
    if window is not None and window.status != Deadline.Status.PENDING and case.status == CS.RULED:
        case_advance_settle(case=case)


def case_advance_settle(*, case: Case) -> int:
    """§8: once the ruling is final the amount frozen on the seller settles to the platform fund, which
    had advanced it to the buyer. Returns how many movements settled."""
    frozen_account = penalties.account_frozen(case.shop)
    settled = 0
    effects = case.ruling_effects or {}
    for movement in LedgerMovement.objects.filter(pk__in=effects.get("movements", []), reason="ruling.advance_frozen"):
        if LedgerMovement.objects.filter(
            source_kind="case", source_id=case.pk, reason="ruling.advance_settled"
        ).exists():
            break
        penalties.ledger_transfer(
            debit=frozen_account,
            credit=penalties.PLATFORM_FUND,
            amount=movement.amount,
            reason="ruling.advance_settled",
            source=case,
            order=movement.order,
            shop=movement.shop,
        )
        settled += 1
    if settled:
        _event(case, "case.advance_settled", None, case.status, {"movements": settled})
    return settled


def case_review_window_timeout(*, deadline: Deadline, subject: Case) -> str:
    """R-T20: the review window closed; with no review pending the ruling is final (an advance settles)."""
    if subject.status != CS.RULED:
        return f"waiting: case is {subject.status}"
    settled = case_advance_settle(case=subject)
    _event(subject, "case.final", None, subject.status, {"rule": "R-T20"})
    return f"final ({settled} settled)"
