"""Thin views: scope the object (another party's is a 404), check who may act (403), call one service."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db.models import Prefetch, Q
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.api import PlainJSONRenderer, QueuePagination
from core.errors import RuleViolation
from core.idempotency import idempotent
from core.models import Event
from core.roles import Role, has_role, is_arbitrator, is_platform_staff
from orders.models import OrderItem
from orders.selectors import is_seller_of, order_list_for

from . import serializers as s
from . import services
from .case_queue import queue_filtered, queue_rows
from .export import case_export_zip
from .models import CaseReview, Refund
from .representation import refund_data
from .selectors import case_list_for, case_party_list_for, complaint_list_for, deadlines_attach, refund_list_for


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class TimelineMixin:
    timeline_subject_kind = ""

    @extend_schema(request=None, responses={200: s.TimelineEventSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request, pk=None):
        obj = self.get_object()  # type: ignore[attr-defined]
        events = Event.objects.filter(subject_kind=self.timeline_subject_kind, subject_id=obj.pk).order_by("at", "id")
        return Response(s.TimelineEventSerializer(events, many=True).data)


class DisputeViewMixin:
    """What every dispute view shares: list pages carry their deadlines in one query; input parsing."""

    request: Any

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)  # type: ignore[misc]
        deadlines_attach(page if page is not None else [])
        return page

    def _input(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[c for c, _ in s.Refund.Status.choices]),
            OpenApiParameter("order", int),
            OpenApiParameter("shop", int),
        ]
    )
)
class RefundViewSet(
    DisputeViewMixin, TimelineMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = s.RefundSerializer
    pagination_class = QueuePagination  # counted up to its cap: the staff's list holds every refund
    timeline_subject_kind = "refund"

    def get_queryset(self):
        qs = (
            refund_list_for(self.request.user)
            .select_related("case", "shop__owner")
            .prefetch_related(Prefetch("order__items", queryset=OrderItem.objects.only("id", "order_id", "discounted")))
        )
        params = self.request.query_params
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if (order := _int(params.get("order"))) is not None:
            qs = qs.filter(order_id=order)
        if (shop := _int(params.get("shop"))) is not None:
            qs = qs.filter(shop_id=shop)
        return qs

    def _render(self, refund, code=status.HTTP_200_OK):
        return Response(s.RefundSerializer(self.get_queryset().get(pk=refund.pk)).data, status=code)

    def _as_buyer(self, refund) -> None:
        user = self.request.user
        if not (user.is_superuser or refund.buyer_id == user.pk):
            raise PermissionDenied("only the buyer may do this")

    def _as_seller(self, refund) -> None:
        user = self.request.user
        if not (user.is_superuser or (has_role(user, Role.SELLER) and is_seller_of(user, refund.shop))):
            raise PermissionDenied("only the shop's seller may do this")

    @extend_schema(request=s.RefundCreateSerializer, responses={201: s.RefundSerializer})
    @idempotent
    def create(self, request):
        user = request.user
        staff = is_platform_staff(user)
        if not (staff or has_role(user, Role.BUYER)):
            raise PermissionDenied("buyers file refunds (or agents on a buyer's behalf)")
        if not staff and (fields := s.refund_request_on_own_order(request.data)) is not None:
            # A buyer's well-formed request, checked without a query: refund_file locks the order only
            # if it is the buyer's. If it is not, the full serializer below answers as it always did
            # (400 for an order the caller cannot see, 403 for one seen as a seller).
            try:
                return self._filed(services.refund_file(actor=user, buyer=user, **fields))
            except RuleViolation as exc:
                if exc.code != "not_the_buyer":
                    raise
        # The order is only looked up here (refund_file locks and reads it again): no joins, no prefetch.
        orders = order_list_for(user).select_related(None).prefetch_related(None).only("id", "buyer_id")
        serializer = s.RefundCreateSerializer(data=request.data, orders=orders)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        buyer = data.pop("buyer", None)
        if not staff and data["order"].buyer_id != user.pk:
            raise PermissionDenied("only the order's buyer files a refund on it")
        if staff and buyer is None:
            return Response(
                {"code": "invalid", "detail": "agents name the buyer", "buyer": ["required for agents"]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return self._filed(services.refund_file(actor=user, buyer=buyer, **data))

    def _filed(self, refund: Refund) -> Response:
        # Rendered from what refund_file wrote and read under the order's lock (the refund, its order,
        # shop, its two clocks) instead of reading it all back, by hand as RefundSerializer
        # would (disputes/representation.py): the same body as GET refunds/{id}/
        # (tests/disputes/test_representation.py). A refund just filed has no case.
        Refund._meta.get_field("case").set_cached_value(refund, None)  # type: ignore[union-attr]
        return Response(refund_data(refund), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.RefundApproveSerializer, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        refund = self.get_object()
        self._as_seller(refund)
        data = self._input(s.RefundApproveSerializer)
        return self._render(services.refund_approve(refund=refund, actor=request.user, **data))

    @extend_schema(request=s.RefundRefuseSerializer, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"])
    def refuse(self, request, pk=None):
        refund = self.get_object()
        self._as_seller(refund)
        data = self._input(s.RefundRefuseSerializer)
        return self._render(services.refund_refuse(refund=refund, actor=request.user, **data))

    @extend_schema(request=s.RefundModifySerializer, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"])
    def modify(self, request, pk=None):
        refund = self.get_object()
        self._as_buyer(refund)
        data = self._input(s.RefundModifySerializer)
        return self._render(services.refund_modify(refund=refund, actor=request.user, **data))

    @extend_schema(request=s.ReturnShipmentSerializer, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"], url_path="return-shipment")
    def return_shipment(self, request, pk=None):
        refund = self.get_object()
        self._as_buyer(refund)
        data = self._input(s.ReturnShipmentSerializer)
        return self._render(services.refund_return_shipment(refund=refund, actor=request.user, **data))

    @extend_schema(request=None, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"], url_path="confirm-return")
    def confirm_return(self, request, pk=None):
        refund = self.get_object()
        self._as_seller(refund)
        return self._render(services.refund_confirm_return(refund=refund, actor=request.user))

    @extend_schema(request=s.RefundRefuseSerializer, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"], url_path="reject-return")
    def reject_return(self, request, pk=None):
        refund = self.get_object()
        self._as_seller(refund)
        data = self._input(s.RefundRefuseSerializer)
        return self._render(services.refund_reject_return(refund=refund, actor=request.user, **data))

    @extend_schema(request=s.EscalateSerializer, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        refund = self.get_object()
        user = request.user
        if not (user.pk == refund.buyer_id or user.is_superuser or is_seller_of(user, refund.shop)):
            raise PermissionDenied("the buyer or the shop's seller escalates")
        data = self._input(s.EscalateSerializer)
        return self._render(services.refund_escalate(refund=refund, actor=user, **data))

    @extend_schema(request=None, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        refund = self.get_object()
        self._as_buyer(refund)
        return self._render(services.refund_withdraw(refund=refund, actor=request.user))

    @extend_schema(request=s.EscalateSerializer, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"], url_path="request-reason-change")
    def request_reason_change(self, request, pk=None):
        """R-F07: the seller asks the buyer to change an untrue out_of_stock / late_shipment reason."""
        refund = self.get_object()
        self._as_seller(refund)
        data = self._input(s.EscalateSerializer)
        return self._render(
            services.refund_request_reason_change(refund=refund, actor=request.user, note=data["reason"])
        )

    @extend_schema(request=s.ReplacementShipmentSerializer, responses={200: s.RefundSerializer})
    @action(detail=True, methods=["post"], url_path="replacement-shipment")
    def replacement_shipment(self, request, pk=None):
        refund = self.get_object()
        self._as_seller(refund)
        data = self._input(s.ReplacementShipmentSerializer)
        return self._render(services.refund_replacement_shipment(refund=refund, actor=request.user, **data))


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[c for c, _ in s.Complaint.Status.choices]),
            OpenApiParameter("type", str, enum=[c for c, _ in s.Complaint.Type.choices]),
            OpenApiParameter("shop", int),
        ]
    )
)
class ComplaintViewSet(
    DisputeViewMixin, TimelineMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = s.ComplaintSerializer
    pagination_class = QueuePagination  # counted up to its cap: the staff's list holds every complaint
    timeline_subject_kind = "complaint"

    def get_queryset(self):
        qs = complaint_list_for(self.request.user).select_related("case", "shop__owner")
        params = self.request.query_params
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("type"):
            qs = qs.filter(type=params["type"])
        if (shop := _int(params.get("shop"))) is not None:
            qs = qs.filter(shop_id=shop)
        return qs

    def _render(self, complaint, code=status.HTTP_200_OK):
        return Response(s.ComplaintSerializer(self.get_queryset().get(pk=complaint.pk)).data, status=code)

    def _side(self, complaint, side: str) -> None:
        user = self.request.user
        if user.is_superuser:
            return
        if side == "buyer" and complaint.buyer_id == user.pk:
            return
        if side == "seller" and has_role(user, Role.SELLER) and is_seller_of(user, complaint.shop):
            return
        raise PermissionDenied(f"only the {side} may do this")

    @extend_schema(request=s.ComplaintCreateSerializer, responses={201: s.ComplaintSerializer})
    @idempotent
    def create(self, request):
        user = request.user
        staff = is_platform_staff(user)
        serializer = s.ComplaintCreateSerializer(data=request.data, orders=order_list_for(user))
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        buyer = data.pop("buyer", None)
        order = data["order"]
        seller_claim = data["type"] in s.Complaint.SELLER_CLAIM_TYPES
        if seller_claim:
            if not (user.is_superuser or (has_role(user, Role.SELLER) and is_seller_of(user, order.shop))):
                raise PermissionDenied("a seller's claim is filed by the shop's seller")
        elif staff:
            if buyer is None:
                return Response(
                    {"code": "invalid", "detail": "agents name the buyer", "buyer": ["required for agents"]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            if buyer.pk != order.buyer_id:
                return Response(
                    {"code": "not_the_buyer", "detail": "the buyer is not this order's buyer", "buyer": ["mismatch"]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
        elif order.buyer_id != user.pk:
            raise PermissionDenied("only the order's buyer complains about it")
        complaint = services.complaint_file(actor=user, **data)
        return self._render(complaint, status.HTTP_201_CREATED)

    @extend_schema(request=s.StatementSerializer, responses={200: s.ComplaintSerializer})
    @action(detail=True, methods=["post"])
    def appeal(self, request, pk=None):
        complaint = self.get_object()
        self._side(complaint, complaint.accused)
        data = self._input(s.StatementSerializer)
        return self._render(services.complaint_appeal(complaint=complaint, actor=request.user, **data))

    @extend_schema(request=s.StatementSerializer, responses={200: s.ComplaintSerializer})
    @action(detail=True, methods=["post"])
    def rebut(self, request, pk=None):
        complaint = self.get_object()
        self._side(complaint, complaint.complainant)
        data = self._input(s.StatementSerializer)
        return self._render(services.complaint_rebut(complaint=complaint, actor=request.user, **data))

    @extend_schema(request=None, responses={200: s.ComplaintSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        complaint = self.get_object()
        self._side(complaint, complaint.complainant)
        return self._render(services.complaint_withdraw(complaint=complaint, actor=request.user))


PARTY_ACTIONS = {"request_review"}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[c for c, _ in s.Case.Status.choices]),
            OpenApiParameter("assignee", str, description="a user id, or 'none' for unassigned"),
            OpenApiParameter("overdue", bool),
            OpenApiParameter("kind", str, enum=[c for c, _ in s.Case.Kind.choices]),
            OpenApiParameter("shop", int),
        ]
    )
)
class CaseViewSet(
    DisputeViewMixin, TimelineMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The arbitration queue: overdue first, then the nearest deadline. Platform staff only; the
    parties reach a case only to request a review of its ruling (R-T20)."""

    serializer_class = s.CaseSerializer
    timeline_subject_kind = "case"
    pagination_class = QueuePagination

    def get_serializer_class(self):
        return s.CaseFullSerializer if self.action == "retrieve" else s.CaseSerializer

    def get_renderers(self):
        """The queue page's JSON (strings, integers, booleans, nulls only) through orjson: the same bytes."""
        renderers = super().get_renderers()
        if self.action == "list":
            return [PlainJSONRenderer() if type(r) is JSONRenderer else r for r in renderers]
        return renderers

    def get_queryset(self):
        user = self.request.user
        if self.action in PARTY_ACTIONS:
            return case_party_list_for(user)
        qs = self._visible()
        if self.action == "retrieve":
            qs = qs.prefetch_related("notes__author", "reviews", "evidence_requests__deadline")
        return queue_filtered(qs, self._queue_filters())

    def _visible(self):
        """The cases the user sees: the whole queue for platform staff (case_list_for)."""
        user = self.request.user
        if user.is_authenticated and not is_platform_staff(user):
            raise PermissionDenied("the case queue is the platform's")
        return case_list_for(user)

    def _queue_filters(self) -> dict[str, Any]:
        params = self.request.query_params
        filters: dict[str, Any] = {}
        if params.get("status"):
            filters["status"] = params["status"]
        if params.get("assignee") == "none":
            filters["assignee__isnull"] = True
        elif (assignee := _int(params.get("assignee"))) is not None:
            filters["assignee_id"] = assignee
        if params.get("overdue") in ("true", "1"):
            filters["overdue"] = True
        elif params.get("overdue") in ("false", "0"):
            filters["overdue"] = False
        if params.get("kind"):
            filters["kind"] = params["kind"]
        if (shop := _int(params.get("shop"))) is not None:
            filters["shop_id"] = shop
        return filters

    def list(self, request, *args, **kwargs):
        """The queue page read as tuples (the case, its shop's name, its assignee's name, its clocks) and
        shaped by hand exactly as CaseSerializer would (disputes/representation.py): 50 rows without a
        model instance or a serializer per row. On PostgreSQL the page, its capped count and its deadlines
        are one written-out statement (disputes/case_queue.py)."""
        filters = self._queue_filters()
        # The queue is the same for every staff member (case_list_for): the capped count is keyed by the filters.
        key = "queue:cases:" + hashlib.sha256(repr(sorted(filters.items())).encode()).hexdigest()[:32]
        page = self.paginator.paginate_counted(  # type: ignore[union-attr]
            queue_rows(self._visible(), filters), request, cache_key=key
        )
        return self.get_paginated_response(page)

    def _render(self, case, code=status.HTTP_200_OK):
        return Response(s.CaseSerializer(case_list_for(self.request.user).get(pk=case.pk)).data, status=code)

    def _arbitrator(self) -> None:
        if not is_arbitrator(self.request.user):
            raise PermissionDenied("only arbitrators do this")

    @extend_schema(request=s.CaseAssignSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        case = self.get_object()
        data = self._input(s.CaseAssignSerializer)
        return self._render(services.case_assign(case=case, actor=request.user, **data))

    @extend_schema(request=s.CaseRequestEvidenceSerializer, responses={201: s.EvidenceRequestSerializer})
    @action(detail=True, methods=["post"], url_path="request-evidence")
    @idempotent
    def request_evidence(self, request, pk=None):
        case = self.get_object()
        data = self._input(s.CaseRequestEvidenceSerializer)
        evidence_request = services.case_request_evidence(case=case, actor=request.user, **data)
        return Response(s.EvidenceRequestSerializer(evidence_request).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CaseNoteSerializer, responses={201: s.CaseNoteSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def notes(self, request, pk=None):
        case = self.get_object()
        data = self._input(s.CaseNoteSerializer)
        note = services.case_note_add(case=case, actor=request.user, body=data["body"])
        return Response(s.CaseNoteSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CaseRuleSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    def rule(self, request, pk=None):
        case = self.get_object()
        self._arbitrator()
        data = self._input(s.CaseRuleSerializer)
        return self._render(services.case_rule(case=case, actor=request.user, **data))

    @extend_schema(request=s.ReasonSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        case = self.get_object()
        self._arbitrator()
        data = self._input(s.ReasonSerializer)
        return self._render(services.case_suspend(case=case, actor=request.user, **data))

    @extend_schema(request=s.ReasonSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        case = self.get_object()
        self._arbitrator()
        data = self._input(s.ReasonSerializer)
        return self._render(services.case_resume(case=case, actor=request.user, **data))

    @extend_schema(request=s.CaseAgreementSerializer, responses={200: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    def agreement(self, request, pk=None):
        case = self.get_object()
        data = self._input(s.CaseAgreementSerializer)
        return self._render(services.case_record_agreement(case=case, actor=request.user, **data))

    @extend_schema(request=s.CaseReviewRequestSerializer, responses={201: s.CaseReviewSerializer})
    @action(detail=True, methods=["post"], url_path="request-review")
    @idempotent
    def request_review(self, request, pk=None):
        case = self.get_object()
        data = self._input(s.CaseReviewRequestSerializer)
        review = services.case_request_review(case=case, actor=request.user, **data)
        return Response(s.CaseReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CaseReviewDecideSerializer, responses={200: s.CaseReviewSerializer})
    @action(detail=True, methods=["post"], url_path="decide-review")
    def decide_review(self, request, pk=None):
        case = self.get_object()
        self._arbitrator()
        data = self._input(s.CaseReviewDecideSerializer)
        review = get_object_or_404(CaseReview, pk=data["review"], case=case)
        review = services.case_review_decide(
            review=review, actor=request.user, decision=data["decision"], note=data["note"]
        )
        return Response(s.CaseReviewSerializer(review).data)

    @extend_schema(request=None, responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        case = self.get_object()
        buffer, name = case_export_zip(case)
        return FileResponse(buffer, as_attachment=True, filename=name, content_type="application/zip")

    @extend_schema(request=None, responses={200: s.TimelineEventSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request, pk=None):
        """The case's events and its subject's, oldest first (platform staff only)."""
        case = self.get_object()
        subject_kind, subject_id = ("refund", case.refund_id) if case.refund_id else ("complaint", case.complaint_id)
        events = Event.objects.filter(
            Q(subject_kind="case", subject_id=case.pk) | Q(subject_kind=subject_kind, subject_id=subject_id)
        ).order_by("at", "id")
        return Response(s.TimelineEventSerializer(events, many=True).data)
