"""Platform cases (客服介入 / 仲裁): opening one, and its SLA clock (R-T12)."""

from __future__ import annotations

from django.db.models import Min
from django.utils import timezone

from core import rulebook
from core.services import event_record, notify

from ..engine import deadline_schedule
from ..models import Case, Complaint, Deadline, Refund

__all__ = ["case_open", "case_refresh_next_due", "case_sla_timeout"]

R_T12 = rulebook.timer("R-T12")


def case_refresh_next_due(case: Case) -> None:
    """Keep the queue's sort key: the nearest pending, running deadline of the case."""
    nearest = Deadline.objects.filter(
        subject_kind="case", subject_id=case.pk, status=Deadline.Status.PENDING, paused_at__isnull=True
    ).aggregate(m=Min("due_at"))["m"]
    Case.objects.filter(pk=case.pk).update(next_due_at=nearest)
    case.next_due_at = nearest


def case_open(*, actor, refund: Refund | None = None, complaint: Complaint | None = None, reason: str = "") -> Case:
    """The platform takes over a refund or complaint: a Case in `open`, with its SLA clock (R-T12).

    The caller holds the subject's lock and has moved it to `in_arbitration`.
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
    event_record(
        subject=case,
        action="case.opened",
        actor=actor,
        to_status=case.status,
        data={"kind": case.kind, "subject": f"{subject._meta.model_name}:{subject.pk}", "reason": reason},
    )
    return case


def case_sla_timeout(*, deadline: Deadline, subject: Case) -> str:
    """R-T12 ran out: the case is flagged overdue and goes to the head of the arbitrator queue."""
    if subject.status == Case.Status.RULED:
        return "noop: already ruled"
    subject.overdue = True
    subject.save(update_fields=["overdue", "updated_at"])
    event_record(
        subject=subject,
        action="case.overdue",
        actor=None,
        from_status=subject.status,
        to_status=subject.status,
        data={"rule": R_T12.id, "due_at": deadline.due_at.isoformat()},
    )
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
