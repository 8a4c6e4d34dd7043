from django.db import connection
from django.http import JsonResponse
from rest_framework import mixins, viewsets
from rest_framework.authtoken.views import ObtainAuthToken

from .calendar import calendar_health
from .models import Notification
from .serializers import NotificationSerializer


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Messages to the signed-in user: reminders, requests to act, rulings."""

    serializer_class = NotificationSerializer

    def get_queryset(self):
        if not self.request.user.is_authenticated:
            return Notification.objects.none()
        qs = self.request.user.notifications.all()
        if self.request.query_params.get("unread") in ("1", "true"):
            qs = qs.filter(read_at__isnull=True)
        return qs


class TokenView(ObtainAuthToken):
    """POST username and password, get `{"token": …}` for `Authorization: Token <key>`."""


def health(request):
    """Liveness plus the warnings an operator must act on (e.g. next year's holidays not announced)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "warnings": calendar_health()})
