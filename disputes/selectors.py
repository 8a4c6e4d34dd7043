"""Reads of the deadline engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db import models

from .models import Deadline


def deadlines_attach(objects: Sequence[models.Model]) -> None:
    """Set `_deadlines` on every object with one query, so list endpoints stay at a fixed query count."""
    if not objects:
        return
    kind = objects[0]._meta.model_name
    by_subject: dict[int, list[Deadline]] = defaultdict(list)
    for deadline in Deadline.objects.filter(subject_kind=kind, subject_id__in=[o.pk for o in objects]).order_by(
        "due_at", "id"
    ):
        by_subject[deadline.subject_id].append(deadline)
    for obj in objects:
        obj._deadlines = by_subject.get(obj.pk, [])  # type: ignore[attr-defined]


def deadlines_of(obj: models.Model) -> list[Deadline]:
    cached = getattr(obj, "_deadlines", None)
    if cached is not None:
        return cached
    return list(Deadline.objects.filter(subject_kind=obj._meta.model_name, subject_id=obj.pk).order_by("due_at", "id"))
