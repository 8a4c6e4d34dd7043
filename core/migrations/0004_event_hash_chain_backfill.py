"""Put the events written before the hash chain existed on their subjects' chains, oldest first.

The hash functions are a frozen copy of core/chain.py's: a stored format must not move with the code.
"""

import datetime as dt
import hashlib
import json

from django.db import migrations

GENESIS = "0" * 64


def _content_hash(e) -> str:
    payload = {
        "at": e.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": e.actor_id,
        "actor_label": e.actor_label,
        "action": e.action,
        "subject_kind": e.subject_kind,
        "subject_id": e.subject_id,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "data": e.data,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def backfill(apps, schema_editor):
    Event = apps.get_model("core", "Event")
    EventChain = apps.get_model("core", "EventChain")
    heads: dict[tuple[str, int], tuple[int, str]] = {
        (h.subject_kind, h.subject_id): (h.length, h.head_hash) for h in EventChain.objects.all()
    }
    legacy = Event.objects.filter(seq__isnull=True).order_by("subject_kind", "subject_id", "at", "id")
    batch = []
    for event in legacy.iterator(chunk_size=2000):
        key = (event.subject_kind, event.subject_id)
        length, prev = heads.get(key, (0, GENESIS))
        event.seq = length + 1
        event.prev_hash = prev
        event.hash = hashlib.sha256(f"{prev}:{event.seq}:{_content_hash(event)}".encode()).hexdigest()
        heads[key] = (event.seq, event.hash)
        batch.append(event)
        if len(batch) >= 2000:
            Event.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])
            batch = []
    Event.objects.bulk_update(batch, ["seq", "prev_hash", "hash"])
    for (kind, subject_id), (length, head_hash) in heads.items():
        EventChain.objects.update_or_create(
            subject_kind=kind, subject_id=subject_id, defaults={"length": length, "head_hash": head_hash}
        )


class Migration(migrations.Migration):
    dependencies = [("core", "0003_event_hash_chain")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
