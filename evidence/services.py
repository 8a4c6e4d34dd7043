"""Writes of evidence: submit, attach, review, and the stored checklist summary (RULEBOOK §7).

Each writes its audit event on the timeline of the refund, complaint or case the evidence is for
(on the evidence item itself while it is not yet linked), carrying the item's SHA-256: the hash chain
(core/chain.py) then vouches for the file as well as for the event.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.utils import timezone

from core.errors import DomainError, Forbidden, RuleViolation
from core.roles import Role, has_role, is_platform_staff
from core.services import event_record
from disputes.models import Case, Complaint, Refund
from orders.selectors import is_seller_of

from . import content
from .models import Evidence, EvidenceStatus, evidence_storage
from .selectors import evidence_checklist, subject_may_attach

UPLOADER_ROLES = (Role.BUYER, Role.SELLER, Role.AGENT, Role.ARBITRATOR)


def _side_of(user, subject: models.Model) -> str:
    if isinstance(subject, Case):
        subject = subject.subject
    if subject.buyer_id == user.pk:  # type: ignore[attr-defined]
        return Evidence.Side.BUYER
    if is_seller_of(user, subject.shop):  # type: ignore[attr-defined]
        return Evidence.Side.SELLER
    return Evidence.Side.PLATFORM


def _link(evidence: Evidence, subject: models.Model) -> None:
    field = {Refund: "refund", Complaint: "complaint", Case: "case"}[type(subject)]
    setattr(evidence, field, subject)
    # Its parties, as the subject names them (a dispute's shop and buyer never change): the lists read them.
    evidence.shop_id, evidence.buyer_id = subject.shop_id, subject.buyer_id  # type: ignore[attr-defined]


def _event_data(evidence: Evidence) -> dict:
    return {
        "evidence": evidence.pk,
        "kind": evidence.kind,
        "sha256": evidence.sha256,
        "size": evidence.size,
        "content_type": evidence.content_type,
        "side": evidence.side,
        "name": evidence.original_name,
    }


def _storage_name(suffix: str = "") -> str:
    now = timezone.localtime()
    return f"evidence/{now:%Y}/{now:%m}/{uuid.uuid4().hex}{suffix}"


def evidence_submit(*, file, kind: str, actor, subject: models.Model | None = None, description: str = "") -> Evidence:
    """Store one evidence file under a generated name, with the type its bytes show and their SHA-256,
    for `subject` (a refund, complaint or case) or, with none, to be cited when a complaint is filed."""
    if not has_role(actor, *UPLOADER_ROLES):
        raise Forbidden("only buyers, sellers and platform staff submit evidence", code="forbidden")
    if subject is not None and not subject_may_attach(actor, subject):
        raise Forbidden("only the parties and platform staff attach evidence to this dispute", code="forbidden")
    if kind not in Evidence.Kind.values:
        raise RuleViolation(f"unknown evidence kind '{kind}'", code="invalid_kind", field="kind")
    probed = getattr(file, "probed", None) or content.probe_file(file)
    if probed.size == 0:
        raise RuleViolation("the file is empty", code="empty_file", field="file")
    if probed.size > settings.EVIDENCE_MAX_BYTES:
        from .uploads import FileTooLarge

        raise FileTooLarge()
    content_type = content.detect_type(probed)
    if content_type is None:
        raise RuleViolation(
            "this kind of file is not accepted: send JPEG, PNG, WebP, GIF, PDF, MP4 or plain text",
            code="unsupported_type",
            field="file",
        )
    thumbnail = None
    if content_type in content.IMAGE_TYPES:
        try:
            thumbnail = content.image_thumbnail(
                file,
                content_type=content_type,
                max_side=settings.EVIDENCE_THUMBNAIL_SIZE,
                max_pixels=settings.EVIDENCE_MAX_IMAGE_PIXELS,
            )
        except content.ImageRefused as exc:
            raise RuleViolation(exc.detail, code=exc.code, field="file")

    storage = evidence_storage()
    file.seek(0)
    stored_name = storage.save(_storage_name(), file)
    thumb_name = storage.save(_storage_name(".thumb.jpg"), ContentFile(thumbnail)) if thumbnail else ""
    try:
        with transaction.atomic():
            evidence = Evidence(
                file=stored_name,
                thumbnail=thumb_name,
                original_name=content.clean_name(getattr(file, "name", "")),
                kind=kind,
                description=description,
                content_type=content_type,
                size=probed.size,
                sha256=probed.sha256,
                submitted_by=actor,
                side=_side_of(actor, subject) if subject is not None else "",
            )
            if subject is not None:
                _link(evidence, subject)
            evidence.save()
            event_record(
                subject=subject if subject is not None else evidence,
                action="evidence.submitted",
                actor=actor,
                data=_event_data(evidence),
            )
            if subject is not None:
                evidence_status_refresh(subject=subject)
    except BaseException:
        # The row never existed: do not leave its bytes behind.
        for name in (stored_name, thumb_name):
            if name:
                storage.delete(name)
        raise
    if subject is not None and evidence.side in ("buyer", "seller"):
        # R-T13: a party's evidence answers the case's open requests to that party.
        from disputes.services.cases import case_evidence_received_for

        case_evidence_received_for(subject=subject, party=evidence.side, actor=actor, evidence_ids=[evidence.pk])
    return evidence


def evidence_attach(*, evidence: Evidence, subject: models.Model, actor) -> Evidence:
    """Link an item submitted before its subject existed (a new complaint's evidence) to `subject`.
    Only its submitter or platform staff, only a party or staff of `subject`, and only once."""
    with transaction.atomic():
        evidence = Evidence.objects.select_for_update().get(pk=evidence.pk)
        current = evidence.refund or evidence.complaint or evidence.case
        if current is not None:
            if current == subject:
                return evidence
            raise DomainError("this evidence is already on another dispute", code="evidence_already_attached")
        if evidence.submitted_by_id != actor.pk and not is_platform_staff(actor):
            raise Forbidden("only its submitter attaches this evidence", code="forbidden")
        if not subject_may_attach(evidence.submitted_by, subject):
            raise Forbidden("its submitter is not a party to this dispute", code="forbidden")
        _link(evidence, subject)
        evidence.side = _side_of(evidence.submitted_by, subject)
        evidence.save(update_fields=["refund", "complaint", "case", "shop", "buyer", "side"])
        event_record(subject=subject, action="evidence.attached", actor=actor, data=_event_data(evidence))
        evidence_status_refresh(subject=subject)
    return evidence


def evidence_review(*, evidence: Evidence, actor, verdict: str, note: str = "") -> Evidence:
    """An agent or arbitrator accepts or rejects an item, with a note; a later review may overturn an
    earlier one, and every review stays on the timeline."""
    if not is_platform_staff(actor):
        raise Forbidden("only agents and arbitrators review evidence", code="forbidden")
    if verdict not in (Evidence.Verdict.ACCEPTED, Evidence.Verdict.REJECTED):
        raise RuleViolation("verdict must be accepted or rejected", code="invalid_verdict", field="verdict")
    with transaction.atomic():
        evidence = Evidence.objects.select_for_update().get(pk=evidence.pk)
        subject = evidence.subject
        if subject is None:
            raise DomainError("evidence not yet on a refund, complaint or case", code="evidence_not_attached")
        before = evidence.verdict
        evidence.verdict = verdict
        evidence.review_note = note
        evidence.reviewed_by = actor
        evidence.reviewed_at = timezone.now()
        evidence.save(update_fields=["verdict", "review_note", "reviewed_by", "reviewed_at"])
        event_record(
            subject=subject,
            action="evidence.reviewed",
            actor=actor,
            from_status=before,
            to_status=verdict,
            data={"evidence": evidence.pk, "sha256": evidence.sha256, "verdict": verdict, "note": note},
        )
        evidence_status_refresh(subject=subject)
    return evidence


def evidence_status_refresh(*, subject: models.Model) -> list[EvidenceStatus]:
    """Recompute and store the checklist summary of `subject` and of the other half of its dispute
    (a refund or complaint and its case). The disputes services call it when a case opens and when a
    refund's situation changes (e.g. the seller rejects the return)."""
    if isinstance(subject, Case):
        related: list[models.Model] = [subject, subject.subject]
    else:
        related = [subject]
        case = Case.objects.filter(**{subject._meta.model_name or "": subject}).first()
        if case is not None:
            related.append(case)
    rows = []
    for item in related:
        summary = evidence_checklist(item)
        field = item._meta.model_name or ""
        lookup: dict[str, Any] = {field: item}
        row, _ = EvidenceStatus.objects.update_or_create(
            **lookup,
            defaults={k: summary[k] for k in ("required", "present", "accepted", "percent", "complete")},
        )
        rows.append(row)
    return rows
