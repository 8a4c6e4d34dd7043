"""The project's URLs, plus `bench/bare/`: a bare DRF APIView served by the same process (bench 4)."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns


class BareView(APIView):
    """Same authentication and permission as the API (token, IsAuthenticated); no query of its own."""

    def get(self, request):
        return Response({"ok": True, "user": request.user.pk})


urlpatterns = [path("bench/bare/", BareView.as_view()), *project_urlpatterns]
