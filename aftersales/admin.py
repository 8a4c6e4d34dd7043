from django.contrib import admin

from .models import LogisticsClaim, Registration, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "created_at"]
    filter_horizontal = ["members"]
    search_fields = ["name"]


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    # Changes go through the API's services so that each leaves an audit event.
    list_display = ["id", "source", "type", "status", "handler", "order", "refund", "complaint", "created_at"]
    list_filter = ["source", "type", "status"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(LogisticsClaim)
class LogisticsClaimAdmin(admin.ModelAdmin):
    list_display = ["id", "carrier", "tracking_number", "parcel_state", "price", "status", "paid_amount", "reported_at"]
    list_filter = ["status", "parcel_state", "carrier"]
    search_fields = ["tracking_number"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False
