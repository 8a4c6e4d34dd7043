from django.contrib import admin

from .models import Order, OrderItem, Shipment, Shop


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "kind", "owner", "shipping_promise_hours"]


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "shop", "buyer", "status", "total_amount", "paid_at", "ship_by", "shipped_at"]
    list_filter = ["status"]
    inlines = [OrderItemInline, ShipmentInline]
    readonly_fields = ["status", "paid_at", "ship_by", "shipped_at", "signed_at", "completed_at", "closed_at"]
