"""Tamper evidence for a case (RULEBOOK §7): re-hash its timeline's chains and its evidence files.

A case's timeline is the chains of the case and of its refund or complaint (core/chain.py), plus the
chain of any evidence item submitted before it was linked. Each evidence item is checked three ways:
the stored bytes hash to the recorded SHA-256 and size, and that SHA-256 is the one the chained
`evidence.submitted` / `evidence.attached` event recorded, so rewriting file and row together shows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Q

from core.chain import ChainBreak, chain_verify
from core.models import Event, EventChain
from disputes.models import Case

from .models import Evidence, evidence_storage
from .selectors import family_q

RECORDING_ACTIONS = ("evidence.submitted", "evidence.attached")


@dataclass(frozen=True)
class EvidenceBreak:
    evidence_id: int
    reason: str

    def __str__(self) -> str:
        return f"evidence {self.evidence_id}: {self.reason}"


Break = ChainBreak | EvidenceBreak


def file_sha256(name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with evidence_storage().open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def evidence_verify(evidence: Evidence, recorded: Iterable[Event]) -> EvidenceBreak | None:
    """The stored file against the row, and the row against the chained events that recorded it."""
    hashes = {e.data.get("sha256") for e in recorded if e.data.get("evidence") == evidence.pk}
    if not hashes:
        return EvidenceBreak(evidence.pk, "no chained event records this evidence")
    if hashes != {evidence.sha256}:
        return EvidenceBreak(
            evidence.pk, f"the row's sha256 {evidence.sha256} is not the one the timeline recorded ({sorted(hashes)})"
        )
    try:
        actual, size = file_sha256(evidence.file.name or "")
    except OSError as exc:
        return EvidenceBreak(evidence.pk, f"the stored file {evidence.file.name} cannot be read ({exc})")
    if actual != evidence.sha256:
        return EvidenceBreak(evidence.pk, f"the stored file hashes to {actual}, recorded {evidence.sha256}")
    if size != evidence.size:
        return EvidenceBreak(evidence.pk, f"the stored file has {size} bytes, recorded {evidence.size}")
    return None


def _recording_events(evidence: list[Evidence]) -> list[Event]:
    ids = [e.pk for e in evidence]
    if not ids:
        return []
    return list(
        Event.objects.filter(action__in=RECORDING_ACTIONS).filter(
            Q(data__evidence__in=ids) | Q(subject_kind="evidence", subject_id__in=ids)
        )
    )


def case_verify(case: Case) -> list[Break]:
    """The first break of each chain of the case's timeline, then every evidence item that fails;
    an empty list when everything holds."""
    chains = [("case", case.pk)]
    if case.refund_id:
        chains.insert(0, ("refund", case.refund_id))
    if case.complaint_id:
        chains.insert(0, ("complaint", case.complaint_id))
    evidence = list(Evidence.objects.filter(family_q(case)).order_by("id"))
    chains += [("evidence", e.pk) for e in evidence if Event.objects.filter(subject_kind="evidence", subject_id=e.pk)]
    breaks: list[Break] = []
    for kind, pk in chains:
        found = chain_verify(subject_kind=kind, subject_id=pk)
        if found is not None:
            breaks.append(found)
    recorded = _recording_events(evidence)
    for item in evidence:
        problem = evidence_verify(item, recorded)
        if problem is not None:
            breaks.append(problem)
    return breaks


def verify_all() -> Iterator[Break]:
    """Every chain in the audit log, every event written around the chain, every evidence file."""
    subjects = set(EventChain.objects.values_list("subject_kind", "subject_id"))
    subjects |= set(Event.objects.filter(seq__isnull=True).values_list("subject_kind", "subject_id").distinct())
    for kind, pk in sorted(subjects):
        found = chain_verify(subject_kind=kind, subject_id=pk)
        if found is not None:
            yield found
    batch: list[Evidence] = []
    for item in Evidence.objects.order_by("id").iterator(chunk_size=500):
        batch.append(item)
        if len(batch) == 500:
            yield from _verify_batch(batch)
            batch = []
    yield from _verify_batch(batch)


def _verify_batch(batch: list[Evidence]) -> Iterator[EvidenceBreak]:
    recorded = _recording_events(batch)
    for item in batch:
        problem = evidence_verify(item, recorded)
        if problem is not None:
            yield problem
