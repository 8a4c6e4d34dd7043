"""GET cases/{id}/export/: one zip with the timeline, the evidence files and a manifest of SHA-256 hashes."""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile

from django.db.models import Q
from django.utils import timezone

from core.models import Event

from .models import Case


def case_export_zip(case: Case) -> tuple[tempfile.SpooledTemporaryFile, str]:
    """Build the case's export: timeline.json, evidence/<id>-<name>, manifest.json (sha256 of every file).

    Evidence bytes are streamed from storage and hashed as written; the manifest also carries the hash
    recorded at upload, so a reader sees at once whether a file changed since.
    """
    from evidence.selectors import evidence_of

    subject_kind, subject_id = ("refund", case.refund_id) if case.refund_id else ("complaint", case.complaint_id)
    events = Event.objects.filter(
        Q(subject_kind="case", subject_id=case.pk) | Q(subject_kind=subject_kind, subject_id=subject_id)
    ).order_by("at", "id")
    timeline = [
        {
            "id": e.pk,
            "at": e.at.isoformat(),
            "actor": e.actor_label,
            "action": e.action,
            "subject": f"{e.subject_kind}:{e.subject_id}",
            "from_status": e.from_status,
            "to_status": e.to_status,
            "data": e.data,
        }
        for e in events
    ]
    buffer = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
    manifest: dict = {"case": case.pk, "exported_at": timezone.now().isoformat(), "files": []}
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        timeline_bytes = json.dumps(timeline, ensure_ascii=False, indent=2, default=str).encode()
        archive.writestr("timeline.json", timeline_bytes)
        manifest["files"].append({"path": "timeline.json", "sha256": hashlib.sha256(timeline_bytes).hexdigest()})
        for item in evidence_of(case).order_by("pk"):
            safe = "".join(ch for ch in (item.original_name or "file") if ch.isalnum() or ch in "._-")[:80] or "file"
            path = f"evidence/{item.pk}-{safe}"
            digest = hashlib.sha256()
            with item.file.open("rb") as source, archive.open(path, "w") as target:
                for chunk in iter(lambda: source.read(1024 * 1024), b""):
                    digest.update(chunk)
                    target.write(chunk)
            manifest["files"].append(
                {
                    "path": path,
                    "evidence": item.pk,
                    "kind": item.kind,
                    "sha256": digest.hexdigest(),
                    "sha256_at_upload": item.sha256,
                    "intact": digest.hexdigest() == item.sha256,
                }
            )
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    buffer.seek(0)
    return buffer, f"case-{case.pk}.zip"
