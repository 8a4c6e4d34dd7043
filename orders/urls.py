from rest_framework.routers import SimpleRouter

from .views import OrderViewSet, ShopViewSet

router = SimpleRouter()
router.register("shops", ShopViewSet, basename="shop")
router.register("orders", OrderViewSet, basename="order")

urlpatterns = router.urls
