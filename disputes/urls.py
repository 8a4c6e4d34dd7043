from rest_framework.routers import SimpleRouter

from .views import CaseViewSet, RefundViewSet

router = SimpleRouter()
router.register("refunds", RefundViewSet, basename="refund")
router.register("cases", CaseViewSet, basename="case")

urlpatterns = router.urls
