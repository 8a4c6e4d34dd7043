from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.views import health

api_v1 = [
    path("", include("core.urls")),
    path("", include("orders.urls")),
    path("", include("disputes.urls")),
    path("", include("penalties.urls")),
    path("", include("evidence.urls")),
    path("", include("aftersales.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script as a file: no inline script under the CSP (issue #8).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("healthz/", health, name="health"),
    path("", include("dashboard.urls")),
]
