from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import AgentPerformanceView, LogisticsClaimViewSet, RegistrationViewSet

router = SimpleRouter()
router.register("registrations", RegistrationViewSet, basename="registration")
router.register("logistics-claims", LogisticsClaimViewSet, basename="logistics-claim")

urlpatterns = [
    path("agents/performance/", AgentPerformanceView.as_view(), name="agent-performance"),
    *router.urls,
]
