from django.contrib import admin

from .models import LedgerMovement, Penalty


@admin.register(Penalty)
class PenaltyAdmin(admin.ModelAdmin):
    list_display = ["id", "shop", "code", "points", "compensation_amount", "compensation_form", "status", "issued_at"]
    list_filter = ["code", "status"]


@admin.register(LedgerMovement)
class LedgerMovementAdmin(admin.ModelAdmin):
    list_display = ["at", "debit", "credit", "amount", "currency", "reason"]
