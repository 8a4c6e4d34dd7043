from django.contrib import admin

from .models import Evidence, EvidenceStatus


@admin.register(Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    """Read-only: evidence never changes once stored; reviews go through the API (on the timeline)."""

    list_display = ["id", "kind", "content_type", "size", "side", "submitted_by", "submitted_at", "verdict"]
    list_filter = ["kind", "verdict", "side", "content_type"]
    search_fields = ["sha256", "original_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EvidenceStatus)
class EvidenceStatusAdmin(admin.ModelAdmin):
    list_display = ["id", "refund", "complaint", "case", "present", "required", "accepted", "percent", "complete"]

    def has_change_permission(self, request, obj=None):
        return False
