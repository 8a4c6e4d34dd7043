from rest_framework.routers import SimpleRouter

from .views import CaseViewSet, ComplaintViewSet, RefundViewSet

router = SimpleRouter()
router.register("refunds", RefundViewSet, basename="refund")
router.register("complaints", ComplaintViewSet, basename="complaint")
router.register("cases", CaseViewSet, basename="case")

urlpatterns = router.urls
