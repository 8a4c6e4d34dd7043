"""Reads of evidence: who sees which item, what a refund, complaint or case has, and what it still needs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.db.models.functions import Coalesce
from rest_framework.exceptions import NotFound

from core.errors import RuleViolation
from core.roles import is_platform_staff
from disputes.models import Case, Complaint, Refund
from disputes.selectors import is_party

from . import checklist
from .models import Evidence

SUBJECT_MODELS: dict[str, type[Model]] = {"refund": Refund, "complaint": Complaint, "case": Case}


def evidence_list_for(user) -> QuerySet[Evidence]:
    """Platform staff see all evidence; anyone else what they submitted and what is on a refund,
    complaint or case they are a party to (the buyer, or a seller of the shop)."""
    from orders.selectors import shop_ids_of

    qs = Evidence.objects.select_related("submitted_by", "reviewed_by")
    if not user.is_authenticated:
        return qs.none()
    if is_platform_staff(user):
        return qs
    # What they submitted, and what is on a dispute of theirs: its shop and buyer are on the evidence
    # (copied when it is linked), each indexed, so PostgreSQL unites three index reads (#9). Through the
    # refunds, complaints and cases instead, a seller with 17,600 refunds took 0.3-0.4 s, the evidence read whole.
    party = Q(submitted_by=user) | Q(buyer=user)
    shops = shop_ids_of(user)
    # In the list's order, sorted once found (a top-N sort of the party's own rows). Ordered by the bare
    # columns, PostgreSQL walks the staff's index (submitted_at, id) instead, testing each row until a
    # page's worth pass: all 480,000 of the bench database's when a shop's evidence is the newest (1.2-1.5 s).
    order = (Coalesce("submitted_at", "submitted_at"), "id")
    return qs.filter(party | Q(shop__in=shops) if shops else party).order_by(*order)


def subject_may_attach(user, subject: Model) -> bool:
    """Only the subject's parties and platform staff attach evidence to it (and see that it exists)."""
    return is_platform_staff(user) or is_party(user, subject)


def subject_get_for(user, *, kind: str, pk: int) -> Model:
    """The refund, complaint or case `pk` if `user` may attach to it; 404 otherwise (another party's
    object is not found, CONTRACT.md)."""
    model = SUBJECT_MODELS[kind]
    subject = model._default_manager.select_related("shop__owner").filter(pk=pk).first()  # type: ignore[attr-defined]
    if subject is None or not subject_may_attach(user, subject):
        raise NotFound(f"{kind} {pk} not found")
    return subject


def family_q(subject: Model) -> Q:
    """Evidence on `subject` and on the other half of its dispute: a refund or complaint and its case."""
    if isinstance(subject, Case):
        q = Q(case=subject)
        if subject.refund_id:
            q |= Q(refund_id=subject.refund_id)
        if subject.complaint_id:
            q |= Q(complaint_id=subject.complaint_id)
        return q
    if isinstance(subject, Refund):
        return Q(refund=subject) | Q(case__refund=subject)
    if isinstance(subject, Complaint):
        return Q(complaint=subject) | Q(case__complaint=subject)
    raise TypeError(f"evidence is not attached to {type(subject).__name__}")


def evidence_of(subject: Model) -> QuerySet[Evidence]:
    return Evidence.objects.filter(family_q(subject)).select_related("submitted_by", "reviewed_by")


def evidence_validate_ids(*, ids: Iterable[Any], user, subject: Model | None) -> list[Evidence]:
    """The evidence `user` may cite for `subject` (a refund's refusal, a complaint's filing …): each id
    must be an item the user sees that is either on this dispute already or the user's own, not yet
    attached. `subject` None means the subject is being created. Raises RuleViolation (400) otherwise."""
    try:
        wanted = list(dict.fromkeys(int(i) for i in ids))
    except (TypeError, ValueError):
        raise RuleViolation("evidence must be a list of evidence ids", code="invalid_evidence", field="evidence")
    if not wanted:
        return []
    allowed = Q(submitted_by=user, refund__isnull=True, complaint__isnull=True, case__isnull=True)
    if subject is not None:
        allowed |= family_q(subject)
    found = {e.pk: e for e in evidence_list_for(user).filter(allowed, pk__in=wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise RuleViolation(
            f"evidence {', '.join(map(str, missing))} cannot be cited here (not found, or on another dispute)",
            code="invalid_evidence",
            field="evidence",
            data={"invalid_ids": missing},
        )
    return [found[i] for i in wanted]


def evidence_checklist(subject: Model, *, items: Iterable[Evidence] | None = None) -> dict[str, Any]:
    """RULEBOOK §7 for one refund, complaint or case: each required item `missing`, `present` (some
    evidence not rejected) or `accepted`; and the completeness the queue sorts on."""
    evidence = (
        list(items)
        if items is not None
        else list(Evidence.objects.filter(family_q(subject)).only("id", "kind", "side", "verdict"))
    )
    situations = checklist.situations_for(subject)
    rows = []
    for situation in situations:
        for item in situation.items:
            matching = [
                e
                for e in evidence
                if e.kind in item.kinds
                and e.side in (item.side, Evidence.Side.PLATFORM)
                and e.verdict != Evidence.Verdict.REJECTED
            ]
            if any(e.verdict == Evidence.Verdict.ACCEPTED for e in matching):
                state = "accepted"
            elif matching:
                state = "present"
            else:
                state = "missing"
            rows.append(
                {
                    "situation": situation.code,
                    "code": item.code,
                    "label": item.label,
                    "side": item.side,
                    "kinds": list(item.kinds),
                    "required": item.required,
                    "state": state,
                    "evidence": [e.pk for e in matching],
                }
            )
    required = [r for r in rows if r["required"]]
    present = sum(1 for r in required if r["state"] != "missing")
    accepted = sum(1 for r in required if r["state"] == "accepted")
    return {
        "situations": [{"code": s.code, "label": s.label} for s in situations],
        "items": rows,
        "required": len(required),
        "present": present,
        "accepted": accepted,
        "percent": 100 * present // len(required) if required else 100,
        "complete": present == len(required),
    }
