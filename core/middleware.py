"""Request size limits before any view reads a byte (issue #8), and API responses let go of their
view once rendered (issue #9).

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


class ReleaseRenderedViewMiddleware:
    """Once a DRF response is rendered (Django renders it before any middleware sees it), nothing reads
    its view or its renderer context again. DRF leaves them in reference cycles: the response's
    `renderer_context` holds the response itself and the view, the view holds the response, its
    request and its paginator (whose page holds the rows). So the response's data, a queue page's 50
    dicts with their clocks, outlived the request until the cyclic garbage collector found it, and
    every collection on the way traversed it again: 170–200 µs of collection per GET cases/ page, 40
    with the links cut, the bare view's 26–31 either way (#9, bench 4; PERFORMANCE.md). Cutting them
    here frees the data by reference counting when the server drops the response. Put last in
    MIDDLEWARE, so it runs first on the way out; `response.data` stays (tests read it)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        context = getattr(response, "renderer_context", None)
        if context and getattr(response, "is_rendered", False):
            view = context.get("view")
            response.renderer_context = None
            if view is not None:
                vars(view).clear()  # its response, request, paginator and page: done with
        return response
