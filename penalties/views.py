"""Thin views: parse, check the role, call one service or selector, render."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import QueuePagination, RecordedOrderListMixin
from core.roles import is_arbitrator, is_platform_staff

from . import services
from .selectors import ledger_list_for, obligation_list_for, penalty_list, record_shop_for, shop_record
from .serializers import (
    LedgerMovementSerializer,
    ObligationPerformSerializer,
    ObligationSerializer,
    PenaltyFilterSerializer,
    PenaltyRevokeSerializer,
    PenaltySerializer,
    ShopRecordQuerySerializer,
    ShopRecordSerializer,
)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("shop", int),
            OpenApiParameter("year", int, description="natural year, China time (R-P10)"),
            OpenApiParameter("active", bool),
        ]
    )
)
class PenaltyViewSet(RecordedOrderListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = PenaltySerializer
    pagination_class = QueuePagination  # counted up to its cap: the staff's list holds every penalty
    recorded_time = "issued_at"  # the staff's whole list, newest issued first, read past a bound

    def get_queryset(self):
        if self.action != "list":
            return penalty_list(user=self.request.user)
        filters = PenaltyFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return penalty_list(user=self.request.user, **filters.validated_data)

    @extend_schema(request=PenaltyRevokeSerializer, responses={200: PenaltySerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        penalty = self.get_object()
        if not is_arbitrator(request.user):
            raise PermissionDenied("only arbitrators revoke penalties")
        serializer = PenaltyRevokeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        penalty = services.penalty_revoke(penalty=penalty, actor=request.user, **serializer.validated_data)
        return Response(PenaltySerializer(penalty).data)


class ObligationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """R-P03: what sellers penalised for breach of promise must still perform."""

    serializer_class = ObligationSerializer

    def get_queryset(self):
        return obligation_list_for(self.request.user)

    @extend_schema(request=ObligationPerformSerializer, responses={200: ObligationSerializer})
    @action(detail=True, methods=["post"])
    def perform(self, request, pk=None):
        obligation = self.get_object()
        if not is_platform_staff(request.user):
            raise PermissionDenied("the platform confirms that an obligation was performed")
        serializer = ObligationPerformSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obligation = services.obligation_perform(obligation=obligation, actor=request.user, **serializer.validated_data)
        return Response(ObligationSerializer(obligation).data)


class ShopRecordView(APIView):
    """GET shops/{id}/record/: this natural year's points (China time), sanctions in force, §9 metrics."""

    @extend_schema(
        parameters=[OpenApiParameter("year", int, description="natural year, China time; default: this one")],
        responses={200: ShopRecordSerializer},
    )
    def get(self, request, pk: int):
        shop = record_shop_for(request.user, pk)
        if shop is None:
            raise NotFound()
        query = ShopRecordQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(ShopRecordSerializer(shop_record(shop=shop, **query.validated_data)).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("order", int), OpenApiParameter("shop", int), OpenApiParameter("account", str)]
    )
)
class LedgerViewSet(RecordedOrderListMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = LedgerMovementSerializer
    pagination_class = QueuePagination  # counted up to its cap: the staff's list holds every movement
    recorded_time = "at"  # the staff's whole ledger, oldest first, read past a bound

    def get_queryset(self):
        qs = ledger_list_for(self.request.user)
        params = self.request.query_params
        if (order := _int(params.get("order"))) is not None:
            qs = qs.filter(order_id=order)
        if (shop := _int(params.get("shop"))) is not None:
            qs = qs.filter(shop_id=shop)
        if params.get("account"):
            qs = qs.filter(entries__account=params["account"])
        return qs
