from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import NotificationViewSet, TokenView

router = SimpleRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [path("auth/token/", TokenView.as_view(), name="auth-token"), *router.urls]
