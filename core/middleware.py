"""Request size limits before any view reads a byte (issue #8).

Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only when something reads `request.body`; DRF's JSON
parser reads the stream, so a 1 GB JSON body would be parsed in memory. This refuses, by the
declared Content-Length, any non-multipart body over DATA_UPLOAD_MAX_MEMORY_SIZE and any body at
all over REQUEST_MAX_BYTES (evidence uploads stream to disk under their own, smaller limit).
"""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse(
        {"code": "request_too_large", "detail": f"the request body may not exceed {limit} bytes"}, status=413
    )


class RequestSizeLimitMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return JsonResponse({"code": "invalid", "detail": "bad Content-Length"}, status=400)
        if length > settings.REQUEST_MAX_BYTES:
            return _too_large(settings.REQUEST_MAX_BYTES)
        multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if not multipart and limit is not None and length > limit:
            return _too_large(limit)
        return self.get_response(request)
