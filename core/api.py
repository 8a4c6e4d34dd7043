"""API plumbing shared by every app: error shape, pagination, permission helpers."""

from __future__ import annotations

import math
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL
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
    # QueuePagination.paginate_counted keeps a count past the cap this long (docs/DECISIONS.md "Queue counts").
    CAPPED_COUNT_SECONDS = 5
    count_source = None  # when set, count this queryset instead of the paged one (no joins, no .values())

    @cached_property
    def count(self) -> int:
        source = self.object_list if self.count_source is None else self.count_source
        return source[: self.CAP + 1].count()  # type: ignore[attr-defined]

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

    def paginate_counted(self, rows, request, *, count_source, cache_key: str | None = None) -> list:
        """A page of `rows` and the capped count of `count_source` in one statement.

        The count rides on the page query as a scalar subquery (`SELECT COUNT(*) FROM (… LIMIT CAP + 1)`),
        so a page costs one statement whatever happens. A count past the cap is kept for
        CAPPED_COUNT_SECONDS under `cache_key` (then the page query goes without the subquery); an exact
        count is never cached. Pages, their bounds, the 404 for a page out of range and the response are
        those of `paginate_queryset` with CappedCountPaginator (tests/disputes/test_representation.py).
        """
        self.request = request
        page_size = self.get_page_size(request) or self.page_size
        assert page_size, "the queues always page (PAGE_SIZE)"
        raw = request.query_params.get(self.page_query_param) or 1
        paginator = CappedCountPaginator(rows, page_size)
        if raw in self.last_page_strings:  # the last page needs the count first: two statements
            paginator.count_source = count_source  # type: ignore[attr-defined]
            return self._page(paginator, paginator.num_pages)
        try:
            number = int(raw)
        except (TypeError, ValueError):
            number = 0
        if number < 1 or number > math.ceil((paginator.CAP + 1) / page_size):  # past any page the cap allows
            raise exceptions.NotFound(self.invalid_page_message.format(page_number=raw, message=""))
        key = f"{cache_key}:cap{paginator.CAP}" if cache_key else None
        cached = cache.get(key) if key else None
        if cached is not None:
            paginator.count = cached
            return self._page(paginator, number)
        count_sql, params = count_source.order_by().values("pk")[: paginator.CAP + 1].query.sql_with_params()
        # Django compiled `count_sql` itself, its values stay in `params`: nothing from the request is pasted in.
        total = RawSQL(f"SELECT COUNT(*) FROM ({count_sql}) AS capped", params, output_field=IntegerField())  # noqa: S608, S611
        bottom = (number - 1) * page_size
        fetched = list(rows.annotate(queue_count_capped=total)[bottom : bottom + page_size])
        if not fetched and number > 1:  # nothing at this offset: the count is at most `bottom`
            raise exceptions.NotFound(self.invalid_page_message.format(page_number=raw, message=""))
        paginator.count = fetched[0]["queue_count_capped"] if fetched else 0
        for row in fetched:
            del row["queue_count_capped"]
        if key and paginator.count > paginator.CAP:
            cache.set(key, paginator.count, paginator.CAPPED_COUNT_SECONDS)
        if number > paginator.num_pages:
            raise exceptions.NotFound(self.invalid_page_message.format(page_number=raw, message=""))
        top = bottom + page_size
        if top + paginator.orphans >= paginator.count:  # as Paginator.page: the last page ends at the count
            fetched = fetched[: paginator.count - bottom]
        self.page = Page(fetched, number, paginator)
        return list(self.page)

    def _page(self, paginator, number) -> list:
        try:
            self.page = paginator.page(number)
        except InvalidPage as exc:
            raise exceptions.NotFound(self.invalid_page_message.format(page_number=number, message=str(exc))) from exc
        return list(self.page)

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
