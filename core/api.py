"""API plumbing shared by every app: error shape, pagination, permission helpers."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.utils.functional import cached_property
from rest_framework import exceptions, pagination, permissions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError, RuleViolation
from .roles import has_role


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class CappedCountPaginator(Paginator):
    """Counts at most CAP + 1 rows: a queue of millions pages without a COUNT(*) over all of them."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()  # type: ignore[attr-defined]

    @property
    def capped(self) -> bool:
        return self.count > self.CAP

    @property
    def count_shown(self) -> int:
        """What a page says: the exact count, or CAP (shown as "≥ CAP") past it."""
        return min(self.count, self.CAP)


class QueuePagination(Pagination):
    """The queues' pagination: `count` is exact up to 10,000; past that `count_capped` is true."""

    django_paginator_class = CappedCountPaginator

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        paginator = self.page.paginator
        response.data["count_capped"] = paginator.capped
        response.data["count"] = paginator.count_shown
        return response

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["count_capped"] = {"type": "boolean"}
        return paginated


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error answers `{"code", "detail"}` (400s also carry the field errors)."""
    if isinstance(exc, RuleViolation):
        body: dict[str, Any] = {"code": exc.code, "detail": exc.detail, **exc.data}
        if exc.field:
            body[exc.field] = [exc.detail]
        return Response(body, status=exc.status_code)
    if isinstance(exc, DomainError):
        return Response({"code": exc.code, "detail": exc.detail, **exc.data}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"code": "invalid", "detail": "invalid input", **errors}
    elif isinstance(exc, exceptions.APIException):
        data = response.data if isinstance(response.data, dict) else {"detail": response.data}
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = {"code": code, **data}
    return response


class HasRole(permissions.BasePermission):
    """`HasRole.of("integration", "agent")`: the request's user holds one of the roles."""

    roles: tuple[str, ...] = ()

    @classmethod
    def of(cls, *roles: str) -> type[HasRole]:
        return type(f"HasRole_{'_'.join(roles)}", (cls,), {"roles": roles})

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and has_role(request.user, *self.roles))
