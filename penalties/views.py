from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from core.roles import is_arbitrator

from . import services
from .selectors import ledger_list_for, penalty_list_for
from .serializers import LedgerMovementSerializer, PenaltyRevokeSerializer, PenaltySerializer


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("shop", int),
            OpenApiParameter("year", int),
            OpenApiParameter("active", bool),
        ]
    )
)
class PenaltyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = PenaltySerializer

    def get_queryset(self):
        qs = penalty_list_for(self.request.user)
        params = self.request.query_params
        if (shop := _int(params.get("shop"))) is not None:
            qs = qs.filter(shop_id=shop)
        if (year := _int(params.get("year"))) is not None:
            qs = qs.filter(issued_at__year=year)
        if params.get("active") in ("true", "1"):
            qs = qs.filter(status="active")
        elif params.get("active") in ("false", "0"):
            qs = qs.exclude(status="active")
        return qs

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


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("order", int), OpenApiParameter("shop", int), OpenApiParameter("account", str)]
    )
)
class LedgerViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = LedgerMovementSerializer

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
