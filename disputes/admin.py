from django.contrib import admin

from .models import Deadline


@admin.register(Deadline)
class DeadlineAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "subject_kind", "subject_id", "status", "due_at", "attempts", "fired_at"]
    list_filter = ["status", "rule"]
    readonly_fields = [f.name for f in Deadline._meta.fields]
