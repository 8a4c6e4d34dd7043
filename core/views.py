from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response

from . import lockout
from .calendar import calendar_health
from .models import Notification
from .serializers import NotificationSerializer
from .throttling import AuthRateThrottle


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
    """POST username and password, get `{"token": …}` for `Authorization: Token <key>`.

    Throttled per client address (scope `auth`); a locked-out username and address (core/lockout.py)
    answers 429 `locked_out` before the password is looked at."""

    throttle_classes = [AuthRateThrottle]

    def post(self, request, *args, **kwargs):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if isinstance(username, str) and lockout.is_locked(username, lockout.client_address(request)):
            return Response(
                {"code": "locked_out", "detail": "too many failed sign-ins; try again later"},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(settings.LOGIN_LOCKOUT_SECONDS)},
            )
        return super().post(request, *args, **kwargs)


def health(request):
    """Liveness plus the warnings an operator must act on (e.g. next year's holidays not announced)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "warnings": calendar_health()})
