"""API plumbing shared by every app: error shape, pagination, permission helpers."""

from __future__ import annotations

import math
from typing import Any, Protocol

import orjson
from django.core.cache import cache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import InvalidPage, Page
from django.db.models import IntegerField, Max, Min, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from rest_framework import exceptions, pagination, permissions, renderers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError, RuleViolation
from .paginators import CappedCountPaginator
from .roles import has_role


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class CountedRows(Protocol):
    """What QueuePagination.paginate_counted pages: a queue's rows from an offset, and its capped count."""

    def rows(self, bottom: int, top: int, *, count_cap: int | None) -> tuple[list, int | None]:
        """Rows [bottom, top) of the queue, and (when `count_cap` is given) the number of its rows, counted
        up to count_cap + 1, in the same statement: None when there is no row at `bottom`."""
        ...

    def count(self, cap: int) -> int:
        """The number of the queue's rows, counted up to cap + 1."""
        ...


class QuerysetRows:
    """CountedRows of a queryset: `rows` (instances, `.values()` or `.values_list()`), counted on
    `count_source` (the same queue without the joins), the count riding on the page as a subquery."""

    def __init__(self, rows: QuerySet, count_source: QuerySet, *, shape=None) -> None:
        self._rows = rows
        self._count_source = count_source
        self._shape = shape or list  # e.g. rows to their JSON, once the page is read

    def rows(self, bottom: int, top: int, *, count_cap: int | None) -> tuple[list, int | None]:
        if top <= bottom or self._rows.query.is_empty():  # `.none()` has no SQL to count with
            return [], None
        if count_cap is None:
            return self._shape(list(self._rows[bottom:top])), None
        count_sql, params = self._count_source.order_by().values("pk")[: count_cap + 1].query.sql_with_params()
        # Django compiled `count_sql` itself, its values stay in `params`: nothing from the request is pasted in.
        total = RawSQL(f"SELECT COUNT(*) FROM ({count_sql}) AS capped", params, output_field=IntegerField())  # noqa: S608, S611
        fetched = list(self._rows.annotate(queue_count_capped=total)[bottom:top])
        if not fetched:
            return [], None
        if isinstance(fetched[0], dict):
            count = fetched[0]["queue_count_capped"]
            for row in fetched:
                del row["queue_count_capped"]
        elif isinstance(fetched[0], tuple):  # values_list(): the annotation comes last
            count = fetched[0][-1]
            fetched = [row[:-1] for row in fetched]
        else:  # model instances: the annotation is an attribute of each
            count = fetched[0].queue_count_capped
        return self._shape(fetched), count

    def count(self, cap: int) -> int:
        return self._count_source.order_by()[: cap + 1].count()


class RecordedOrderRows(QuerysetRows):
    """CountedRows of a list ordered by a time and then its id, both one way (the penalties' `-issued_at,
    -id`, the ledger's `at, id`), on a table that keeps no B-tree index in that order (R-T01's sweep
    writes a row of it per firing; docs/DECISIONS.md, "A party's rows come from the buyer's and the
    shop's indexes").

    Rows [bottom, top) of that order all lie within a bound taken from the `top` rows at the same end
    by id alone, which the primary key reads in order: with `-issued_at, -id`, the least issue time of
    the `top` highest ids. A row issued before that bound has at least `top` rows above it (those
    `top`, each issued at the bound or later), so it is on no page up to `top`; and a row at or past
    the bound keeps its rank among those that are. The page is read past the bound (a BRIN index on the
    time finds those rows without an entry per row), the count over the whole list. Two statements, as
    a counted page reads; exact whatever the times, since rows issued late or back-dated only widen the
    bound, and between the two statements, since neither table loses a row (a penalty is revoked, a
    movement reversed) and the `top` rows behind the bound are still there for the page's. It walks
    the primary key through the list's own rows: meant for a list that holds most of its table (the
    staff's, unfiltered), not for a filter that skips most of it."""

    def __init__(self, rows: QuerySet, *, time: str) -> None:
        super().__init__(rows, rows)
        ordering = [str(o) for o in (rows.query.order_by or rows.model._meta.ordering)]
        if ordering not in ([f"-{time}", "-id"], [time, "id"]):
            raise ValueError(f"RecordedOrderRows pages a list ordered by {time} and id, not by {ordering}")
        self._time, self._descending = time, ordering[0].startswith("-")

    def rows(self, bottom: int, top: int, *, count_cap: int | None) -> tuple[list, int | None]:
        if top <= bottom or self._rows.query.is_empty():
            return [], None
        nearest = self._count_source.order_by("-pk" if self._descending else "pk")[:top]
        bound = nearest.aggregate(bound=(Min if self._descending else Max)(self._time))["bound"]
        if bound is None:  # no row at all
            return [], None
        past = {f"{self._time}__gte" if self._descending else f"{self._time}__lte": bound}
        return QuerysetRows(self._rows.filter(**past), self._count_source, shape=self._shape).rows(
            bottom, top, count_cap=count_cap
        )


class QueuePagination(Pagination):
    """The pagination of the queues and of every list a peak day grows by millions of rows (orders,
    refunds, complaints, penalties, the ledger, evidence): `count` is exact up to 10,000; past that
    `count_capped` is true and `count` says 10,000."""

    django_paginator_class = CappedCountPaginator

    def paginate_counted(self, source: CountedRows, request, *, cache_key: str | None = None) -> list:
        """A page of `source` and its capped count in one statement.

        The count rides on the page query (`SELECT COUNT(*) FROM (… LIMIT CAP + 1)`), so a page costs
        one statement whatever happens. A count past the cap is kept for CAPPED_COUNT_SECONDS under
        `cache_key` (then the page is read without counting); an exact count is never cached. Pages,
        their bounds, the 404 for a page out of range and the response are those of
        `paginate_queryset` with CappedCountPaginator (tests/disputes/test_representation.py).
        """
        self.request = request
        page_size = self.get_page_size(request) or self.page_size
        assert page_size, "the queues always page (PAGE_SIZE)"
        raw = request.query_params.get(self.page_query_param) or 1
        paginator = CappedCountPaginator((), page_size)
        if raw in self.last_page_strings:  # the last page needs the count first: two statements
            paginator.count = source.count(paginator.CAP)
            return self._page(paginator, source, paginator.num_pages)
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
            return self._page(paginator, source, number)
        bottom = (number - 1) * page_size
        fetched, count = source.rows(bottom, bottom + page_size, count_cap=paginator.CAP)
        if not fetched and number > 1:  # nothing at this offset: the count is at most `bottom`
            raise exceptions.NotFound(self.invalid_page_message.format(page_number=raw, message=""))
        paginator.count = count or 0
        if key and paginator.count > paginator.CAP:
            cache.set(key, paginator.count, paginator.CAPPED_COUNT_SECONDS)
        if number > paginator.num_pages:
            raise exceptions.NotFound(self.invalid_page_message.format(page_number=raw, message=""))
        top = bottom + page_size
        if top + paginator.orphans >= paginator.count:  # as Paginator.page: the last page ends at the count
            fetched = fetched[: paginator.count - bottom]
        self.page = Page(fetched, number, paginator)
        return fetched

    def _page(self, paginator: CappedCountPaginator, source: CountedRows, number: int) -> list:
        """Paginator.page with the count known: the page's rows read alone."""
        try:
            number = paginator.validate_number(number)
        except InvalidPage as exc:
            raise exceptions.NotFound(self.invalid_page_message.format(page_number=number, message=str(exc))) from exc
        bottom = (number - 1) * paginator.per_page
        top = bottom + paginator.per_page
        if top + paginator.orphans >= paginator.count:
            top = paginator.count
        fetched, _ = source.rows(bottom, top, count_cap=None)
        self.page = Page(fetched, number, paginator)
        return fetched

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


class RecordedOrderListMixin:
    """A ListModelMixin's `list` for a list ordered by a time and its id (`recorded_time`): the whole
    list (no filter: the staff's, unfiltered) is paged past a bound (RecordedOrderRows); a filtered one
    (a seller's shops, a shop, a year) as any other, by the indexes its filters read."""

    recorded_time: str

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        if queryset.query.where:
            page = self.paginate_queryset(queryset)  # type: ignore[attr-defined]
        else:
            source = RecordedOrderRows(queryset, time=self.recorded_time)
            page = self.paginator.paginate_counted(source, request)  # type: ignore[attr-defined]
        return self.get_paginated_response(self.get_serializer(page, many=True).data)  # type: ignore[attr-defined]


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


class PlainJSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer through orjson, for responses built of JSON's own values only (str, int, bool,
    None, lists and dicts, as disputes/representation.py shapes them): the same bytes in a tenth of the time.

    orjson writes floats by its own shortest form ("1e16" where Python writes "1e+16") and NaN as null
    where DRF refuses it, so it is only for views whose data holds no float; datetimes, decimals and
    the like still go through DRF's encoder (`default`). An indented response (`; indent=4`, the
    browsable API), a non-compact or ASCII-only setting, or anything orjson refuses (a key that is not
    a string, an integer past 64 bits) is rendered by JSONRenderer itself. tests/core/test_renderers.py
    compares both."""

    _options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None or self.ensure_ascii or not self.compact or not self.strict:
            return super().render(data, accepted_media_type, renderer_context)
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=self.encoder_class().default, option=self._options)
        except TypeError:
            return super().render(data, accepted_media_type, renderer_context)
        # As JSONRenderer: U+2028 and U+2029 escaped, so that the body is also valid JavaScript. Both are
        # encoded from the byte E2, which most pages do not hold: looking for one byte is a memchr (0.3 µs
        # for a 30 KB page), for the three bytes a search that took 19 µs each over Chinese text.
        if b"\xe2" not in body:
            return body
        return body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
