from rest_framework.routers import SimpleRouter

from .views import CaseViewSet, ComplaintViewSet, RefundViewSet

router = SimpleRouter()
# In the order Django tries them (config/urls.py): the agents' queue, the busiest route, first.
router.register("cases", CaseViewSet, basename="case")
router.register("refunds", RefundViewSet, basename="refund")
router.register("complaints", ComplaintViewSet, basename="complaint")

urlpatterns = router.urls
