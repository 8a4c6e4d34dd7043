"""Thin views: parse, check the role, call one service, render."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from core.api import QueuePagination
from core.idempotency import idempotent
from core.roles import Role, has_role
from disputes.selectors import deadlines_attach

from . import serializers as s
from . import services
from .selectors import is_seller_of, order_list_for, shop_list_for


class ShopViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ShopSerializer

    def get_queryset(self):
        return shop_list_for(self.request.user).select_related("owner")

    @extend_schema(request=s.ShopSerializer, responses={201: s.ShopSerializer})
    @idempotent
    def create(self, request):
        if not has_role(request.user, Role.INTEGRATION, Role.AGENT):
            raise PermissionDenied("only the integration or an agent registers shops")
        serializer = s.ShopSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shop = services.shop_create(actor=request.user, **serializer.validated_data)
        return Response(s.ShopSerializer(shop).data, status=status.HTTP_201_CREATED)


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.OrderSerializer
    pagination_class = QueuePagination  # counted up to its cap: the staff's list holds every order

    def get_queryset(self):
        qs = order_list_for(self.request.user)
        params = self.request.query_params
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("shop", "").isdigit():
            qs = qs.filter(shop_id=int(params["shop"]))
        return qs

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        deadlines_attach(page if page is not None else [])
        return page

    def _render(self, order, code=status.HTTP_200_OK):
        return Response(s.OrderSerializer(self.get_queryset().get(pk=order.pk)).data, status=code)

    def _require(self, *roles: str, order=None, seller_ok: bool = False, buyer_ok: bool = False) -> None:
        user = self.request.user
        if has_role(user, *roles):
            return
        if order is not None and seller_ok and has_role(user, Role.SELLER) and is_seller_of(user, order.shop):
            return
        if order is not None and buyer_ok and order.buyer_id == user.pk:
            return
        raise PermissionDenied("your role may not do this to this order")

    @extend_schema(request=s.OrderCreateSerializer, responses={201: s.OrderSerializer})
    @idempotent
    def create(self, request):
        self._require(Role.INTEGRATION)
        serializer = s.OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_create(actor=request.user, **serializer.validated_data)
        return self._render(order, status.HTTP_201_CREATED)

    @extend_schema(request=s.OrderPaySerializer, responses={200: s.OrderSerializer})
    @action(detail=True, methods=["post"])
    def pay(self, request, pk=None):
        order = self.get_object()
        self._require(Role.INTEGRATION)
        serializer = s.OrderPaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._render(services.order_pay(order=order, actor=request.user, **serializer.validated_data))

    @extend_schema(request=s.OrderShipSerializer, responses={200: s.OrderSerializer})
    @action(detail=True, methods=["post"])
    def ship(self, request, pk=None):
        order = self.get_object()
        self._require(Role.INTEGRATION, order=order, seller_ok=True)
        serializer = s.OrderShipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._render(services.order_ship(order=order, actor=request.user, **serializer.validated_data))

    @extend_schema(request=s.OrderDeliverSerializer, responses={200: s.OrderSerializer})
    @action(detail=True, methods=["post"])
    def deliver(self, request, pk=None):
        order = self.get_object()
        self._require(Role.INTEGRATION)
        serializer = s.OrderDeliverSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._render(services.order_deliver(order=order, actor=request.user, **serializer.validated_data))

    @extend_schema(request=None, responses={200: s.OrderSerializer})
    @action(detail=True, methods=["post"], url_path="confirm-receipt")
    def confirm_receipt(self, request, pk=None):
        order = self.get_object()
        self._require(order=order, buyer_ok=True)
        return self._render(services.order_confirm_receipt(order=order, actor=request.user))

    @extend_schema(request=None, responses={200: s.OrderSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        order = self.get_object()
        self._require(Role.INTEGRATION)
        return self._render(services.order_close(order=order, actor=request.user))

    @extend_schema(request=s.ReviewSerializer, responses={201: s.ReviewSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def review(self, request, pk=None):
        """The shop platform pushes the buyer's review of the order."""
        order = self.get_object()
        self._require(Role.INTEGRATION)
        serializer = s.ReviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = services.review_record(order=order, actor=request.user, **serializer.validated_data)
        return Response(s.ReviewSerializer(review).data, status=status.HTTP_201_CREATED)
