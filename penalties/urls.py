from rest_framework.routers import SimpleRouter

from .views import LedgerViewSet, PenaltyViewSet

router = SimpleRouter()
router.register("penalties", PenaltyViewSet, basename="penalty")
router.register("ledger", LedgerViewSet, basename="ledger")

urlpatterns = router.urls
