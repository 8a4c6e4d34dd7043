"""Thin views: scope the object (another party's is a 404), check who may act (403), call one service."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from core.idempotency import idempotent
from core.models import Event
from core.roles import Role, has_role, is_platform_staff
from orders.models import OrderItem
from orders.selectors import is_seller_of, order_list_for

from . import serializers as s
from . import services
from .selectors import case_list_for, deadlines_attach, refund_list_for


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class TimelineMixin:
    timeline_subject_kind = ""

    @extend_schema(request=None, responses={200: s.TimelineEventSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        obj = self.get_object()  # type: ignore[attr-defined]
        events = Event.objects.filter(subject_kind=self.timeline_subject_kind, subject_id=obj.pk).order_by("at", "id")
        return Response(s.TimelineEventSerializer(events, many=True).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[c for c, _ in s.Refund.Status.choices]),
            OpenApiParameter("order", int),
            OpenApiParameter("shop", int),
        ]
    )
)
class RefundViewSet(TimelineMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.RefundSerializer
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

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        deadlines_attach(page if page is not None else [])
        return page

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

    def _input(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(request=s.RefundCreateSerializer, responses={201: s.RefundSerializer})
    @idempotent
    def create(self, request):
        user = request.user
        staff = is_platform_staff(user)
        if not (staff or has_role(user, Role.BUYER)):
            raise PermissionDenied("buyers file refunds (or agents on a buyer's behalf)")
        serializer = s.RefundCreateSerializer(data=request.data, orders=order_list_for(user))
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
        refund = services.refund_file(actor=user, buyer=buyer, **data)
        return self._render(refund, status.HTTP_201_CREATED)

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
            OpenApiParameter("status", str, enum=[c for c, _ in s.Case.Status.choices]),
            OpenApiParameter("assignee", str, description="a user id, or 'none' for unassigned"),
            OpenApiParameter("overdue", bool),
            OpenApiParameter("kind", str, enum=[c for c, _ in s.Case.Kind.choices]),
            OpenApiParameter("shop", int),
        ]
    )
)
class CaseViewSet(TimelineMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The arbitration queue: overdue first, then the nearest deadline."""

    serializer_class = s.CaseSerializer
    timeline_subject_kind = "case"

    def get_serializer_class(self):
        return s.CaseDetailSerializer if self.action == "retrieve" else s.CaseSerializer

    def get_queryset(self):
        user = self.request.user
        if user.is_authenticated and not is_platform_staff(user):
            raise PermissionDenied("the case queue is the platform's")
        qs = case_list_for(user)
        params = self.request.query_params
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("assignee") == "none":
            qs = qs.filter(assignee__isnull=True)
        elif (assignee := _int(params.get("assignee"))) is not None:
            qs = qs.filter(assignee_id=assignee)
        if params.get("overdue") in ("true", "1"):
            qs = qs.filter(overdue=True)
        elif params.get("overdue") in ("false", "0"):
            qs = qs.filter(overdue=False)
        if params.get("kind"):
            qs = qs.filter(kind=params["kind"])
        if (shop := _int(params.get("shop"))) is not None:
            qs = qs.filter(shop_id=shop)
        return qs.order_by("-overdue", "next_due_at", "id")

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        deadlines_attach(page if page is not None else [])
        return page
