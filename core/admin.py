from django.contrib import admin

from .models import CalendarDay, Event, Notification
from .paginators import CappedCountPaginator


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Operators add announced holidays and make-up working days here, without a release."""

    list_display = ["date", "is_working_day", "note"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The audit log at its size (#9: hundreds of millions of rows): newest first by id (the primary key
    read backwards; `at` has no index of its own), counted up to the queues' cap (CappedCountPaginator)
    and not whole for the header, no filter sidebar (each listed the distinct values of a column by
    reading all of it), and a search by subject, `order:123`, which reads that subject's chain
    (`event_chain_seq_uniq`)."""

    list_display = ["at", "actor_label", "action", "subject_kind", "subject_id", "from_status", "to_status"]
    ordering = ["-id"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    search_fields = ["subject_kind"]  # shows the search box; get_search_results reads it
    search_help_text = "kind:id, e.g. order:123"

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        kind, _, subject_id = search_term.strip().partition(":")
        if not subject_id.strip().isdigit():
            return queryset.none(), False
        return queryset.filter(subject_kind=kind.strip(), subject_id=int(subject_id)), False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "title"]
