from django.contrib import admin

from .models import ItemAction, LedgerMovement, Obligation, Penalty, Sanction


@admin.register(Penalty)
class PenaltyAdmin(admin.ModelAdmin):
    list_display = ["id", "shop", "code", "points", "point_class", "compensation_amount", "status", "issued_at"]
    list_filter = ["code", "status", "point_class"]
    search_fields = ["sku"]


@admin.register(Sanction)
class SanctionAdmin(admin.ModelAdmin):
    list_display = ["id", "shop", "kind", "point_class", "threshold", "year", "starts_at", "ends_at", "status"]
    list_filter = ["kind", "status", "point_class", "year"]


@admin.register(Obligation)
class ObligationAdmin(admin.ModelAdmin):
    list_display = ["id", "shop", "kind", "status", "created_at", "performed_at"]
    list_filter = ["kind", "status"]


@admin.register(ItemAction)
class ItemActionAdmin(admin.ModelAdmin):
    list_display = ["id", "shop", "sku", "action", "at", "reverted_at"]
    list_filter = ["action"]


@admin.register(LedgerMovement)
class LedgerMovementAdmin(admin.ModelAdmin):
    list_display = ["at", "debit", "credit", "amount", "currency", "reason"]
