from django.contrib import admin

from .models import CalendarDay, Event, Notification


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Operators add announced holidays and make-up working days here, without a release."""

    list_display = ["date", "is_working_day", "note"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "action", "subject_kind", "subject_id", "from_status", "to_status"]
    list_filter = ["subject_kind", "action"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "title"]
