"""Idempotency-Key on creating POSTs (CONTRACT.md): a replay returns the first response.

The key is claimed by inserting a row under a unique (user, key) constraint before the work starts,
so two concurrent requests with one key create one object; the loser answers 409 while the first is
in progress, and the first response once it is stored. The same key with another body answers 422.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from .models import IdempotencyRecord

TTL = timedelta(hours=24)
HEADER = "Idempotency-Key"


def _request_hash(request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    data = {}
    for name, value in sorted(request.data.items()) if hasattr(request.data, "items") else []:
        if hasattr(value, "read"):
            file_digest = hashlib.sha256()
            for chunk in value.chunks():
                file_digest.update(chunk)
            value.seek(0)
            data[name] = f"file:{value.name}:{value.size}:{file_digest.hexdigest()}"
        else:
            data[name] = request.data.getlist(name) if hasattr(request.data, "getlist") else value
    digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def idempotent(handler):
    """Decorate a DRF view's `post` (or `create`) to honour the Idempotency-Key header."""

    @functools.wraps(handler)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if not key or not request.user.is_authenticated:
            return handler(self, request, *args, **kwargs)
        if len(key) > 255:
            return Response({"code": "invalid_idempotency_key", "detail": "Idempotency-Key is too long"}, status=400)
        request_hash = _request_hash(request)
        IdempotencyRecord.objects.filter(user=request.user, key=key, created_at__lt=timezone.now() - TTL).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user, key=key, method=request.method, path=request.path, request_hash=request_hash
                )
        except IntegrityError:
            first = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
            if first is None:  # expired and removed between the two statements: treat as in progress
                return Response({"code": "idempotency_in_progress", "detail": "retry shortly"}, status=409)
            if first.request_hash != request_hash:
                return Response(
                    {"code": "idempotency_key_reused", "detail": "this Idempotency-Key was used with another request"},
                    status=422,
                )
            if first.status_code is None:
                return Response(
                    {"code": "idempotency_in_progress", "detail": "the first request with this key is in progress"},
                    status=409,
                )
            response = Response(first.response_body, status=first.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = handler(self, request, *args, **kwargs)
        except BaseException:
            record.delete()
            raise
        if response.status_code >= 500:
            record.delete()
        else:
            record.status_code = response.status_code
            record.response_body = json.loads(json.dumps(response.data, default=str))
            record.save(update_fields=["status_code", "response_body"])
        return response

    return wrapper
