from decimal import Decimal

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.roles import Role
from disputes.selectors import deadlines_of
from disputes.serializers import DeadlineSerializer

from .models import Order, OrderItem, Review, Shipment, Shop

User = get_user_model()


class ShopSerializer(serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(groups__name=Role.SELLER))

    class Meta:
        model = Shop
        fields = ["id", "name", "kind", "owner", "category", "return_address", "shipping_promise_hours", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"shipping_promise_hours": {"min_value": 1, "max_value": 72}}


class OrderItemSerializer(serializers.ModelSerializer):
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    quantity = serializers.IntegerField(min_value=1, max_value=100000, default=1)

    class Meta:
        model = OrderItem
        fields = ["id", "title", "sku", "category", "unit_price", "quantity", "discounted", "custom_made"]
        read_only_fields = ["id"]


class ShipmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shipment
        fields = ["id", "kind", "carrier", "tracking_number", "picked_up_at", "entered_at"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    items = OrderItemSerializer(many=True, read_only=True)
    shipments = ShipmentSerializer(many=True, read_only=True)
    deadlines = serializers.SerializerMethodField()
    shop_name = serializers.CharField(source="shop.name", read_only=True)
    shop_kind = serializers.CharField(source="shop.kind", read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "shop",
            "shop_name",
            "shop_kind",
            "buyer",
            "status",
            "total_amount",
            "shipping_fee",
            "free_shipping",
            "shipping_address",
            "presale_ship_by",
            "promised_ship_hours",
            "created_at",
            "updated_at",
            "paid_at",
            "ship_by",
            "ship_exempt_reason",
            "shipped_at",
            "signed_at",
            "completed_at",
            "closed_at",
            "items",
            "shipments",
            "deadlines",
        ]
        read_only_fields = fields

    @extend_schema_field(DeadlineSerializer(many=True))
    def get_deadlines(self, obj: Order):
        return DeadlineSerializer(deadlines_of(obj), many=True).data


class OrderCreateSerializer(serializers.Serializer):
    shop = serializers.PrimaryKeyRelatedField(queryset=Shop.objects.all())
    buyer = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(groups__name=Role.BUYER))
    total_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    shipping_fee = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0"), default=Decimal("0.00")
    )
    free_shipping = serializers.BooleanField(default=False)
    shipping_address = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    items = OrderItemSerializer(many=True, allow_empty=False)
    presale_ship_by = serializers.DateTimeField(required=False, allow_null=True)
    promised_ship_hours = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=72)
    created_at = serializers.DateTimeField(required=False, help_text="when the shop platform created it; default now")


class OrderPaySerializer(serializers.Serializer):
    paid_at = serializers.DateTimeField(required=False, allow_null=True)


class OrderShipSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=60)
    tracking_number = serializers.CharField(max_length=60)
    picked_up_at = serializers.DateTimeField()


class OrderDeliverSerializer(serializers.Serializer):
    signed_at = serializers.DateTimeField()


class ReviewSerializer(serializers.ModelSerializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    posted_at = serializers.DateTimeField(required=False)

    class Meta:
        model = Review
        fields = ["id", "order", "buyer", "rating", "text", "posted_at", "hidden_at", "hidden_reason"]
        read_only_fields = ["id", "order", "buyer", "hidden_at", "hidden_reason"]
