from django.contrib import admin

from .models import CannedReply


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("situation", "title", "position", "active", "updated_at")
    list_filter = ("situation", "active")
    search_fields = ("title", "body")
