"""Evidence cited by a party's statement (a refusal, an appeal, a rebuttal, a review request)."""

from __future__ import annotations

from django.db import models


def evidence_cite(*, ids: list | None, actor, subject: models.Model) -> list[int]:
    """Check that `actor` may cite each evidence id on `subject` (400 otherwise) and link the items
    uploaded before the statement to it. Returns the ids."""
    if not ids or actor is None:
        return []
    from evidence.selectors import evidence_validate_ids
    from evidence.services import evidence_attach

    items = evidence_validate_ids(ids=[getattr(i, "pk", i) for i in ids], user=actor, subject=subject)
    for item in items:
        if item.refund_id is None and item.complaint_id is None and item.case_id is None:
            evidence_attach(evidence=item, subject=subject, actor=actor)
    return [item.pk for item in items]
