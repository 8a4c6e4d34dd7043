from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import LedgerViewSet, ObligationViewSet, PenaltyViewSet, ShopRecordView

router = SimpleRouter()
router.register("penalties", PenaltyViewSet, basename="penalty")
router.register("obligations", ObligationViewSet, basename="obligation")
router.register("ledger", LedgerViewSet, basename="ledger")

urlpatterns = [
    path("shops/<int:pk>/record/", ShopRecordView.as_view(), name="shop-record"),
    *router.urls,
]
