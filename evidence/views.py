"""Thin views over evidence: parse, check, call one service, render. No update or delete endpoint:
evidence never changes once stored, a correction is a new item (RULEBOOK §7)."""

from __future__ import annotations

import json

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ParseError, PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from core.api import QueuePagination
from core.idempotency import idempotent
from core.roles import has_role

from . import content, services
from . import serializers as s
from .models import Evidence, evidence_storage
from .selectors import evidence_checklist, evidence_list_for, family_q, subject_get_for
from .uploads import EvidenceUploadHandler, FileTooLarge

SUBJECT_PARAMS = [
    OpenApiParameter(name, int, description=f"evidence of this {name} and of the rest of its dispute")
    for name in ("refund", "complaint", "case")
]


class AnyMediaRenderer(renderers.BaseRenderer):
    """Lets a download be asked for with any Accept header; error bodies still come out as JSON."""

    media_type = "*/*"
    format = "file"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data, ensure_ascii=False, default=str).encode()


FILE_RENDERERS = [renderers.JSONRenderer, AnyMediaRenderer]


@extend_schema_view(
    list=extend_schema(parameters=SUBJECT_PARAMS, responses={200: s.EvidenceSerializer(many=True)}),
    retrieve=extend_schema(responses={200: s.EvidenceSerializer}),
)
class EvidenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.EvidenceSerializer
    pagination_class = QueuePagination  # counted up to its cap: the staff's list holds every piece
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    lookup_value_regex = r"\d+"

    def initialize_request(self, request, *args, **kwargs):
        # Before DRF (or session authentication's CSRF check) reads the body: the size limit and the
        # content probe must see the upload as it streams.
        if request.method == "POST":
            request.upload_handlers = [EvidenceUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    def handle_exception(self, exc):
        if isinstance(exc, RequestDataTooBig):
            exc = FileTooLarge()
        elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
            exc = ParseError(str(exc))
        return super().handle_exception(exc)

    def get_queryset(self):
        qs = evidence_list_for(self.request.user)
        params = self.request.query_params
        for name in ("refund", "complaint", "case"):
            value = params.get(name, "")
            if value:
                if not value.isdigit():
                    return qs.none()
                try:
                    subject = subject_get_for(self.request.user, kind=name, pk=int(value))
                except NotFound:
                    return qs.none()
                qs = qs.filter(family_q(subject))
        if params.get("kind"):
            qs = qs.filter(kind=params["kind"])
        if params.get("verdict"):
            qs = qs.filter(verdict=params["verdict"])
        return qs

    @extend_schema(
        request={"multipart/form-data": s.EvidenceCreateSerializer},
        responses={
            201: s.EvidenceSerializer,
            400: OpenApiResponse(description="empty file, type not allowed, unreadable image, bad field"),
            403: OpenApiResponse(description="not a party of the dispute, nor platform staff"),
            404: OpenApiResponse(description="no such refund, complaint or case for you"),
            413: OpenApiResponse(description="file larger than EVIDENCE_MAX_BYTES"),
        },
    )
    @idempotent
    def create(self, request):
        if not has_role(request.user, *services.UPLOADER_ROLES):
            raise PermissionDenied("only buyers, sellers and platform staff submit evidence")
        serializer = s.EvidenceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subject = None
        for name in ("refund", "complaint", "case"):
            if data.get(name) is not None:
                subject = subject_get_for(request.user, kind=name, pk=data[name])
        evidence = services.evidence_submit(
            file=data["file"],
            kind=data["kind"],
            actor=request.user,
            subject=subject,
            description=data["description"],
        )
        return Response(s.EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)

    def _file_response(self, name: str, *, content_type: str, filename: str, attachment: bool, sha256: str = ""):
        try:
            handle = evidence_storage().open(name, "rb")
        except OSError:
            raise NotFound("the stored file is missing; run manage.py verify_case", code="file_missing")
        response = FileResponse(handle, as_attachment=attachment, filename=filename, content_type=content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        if sha256:
            response["X-Evidence-SHA256"] = sha256
        return response

    # The file's own type (image/png, application/pdf …), whatever was submitted.
    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY, 404: None})
    @action(detail=True, methods=["get"], renderer_classes=FILE_RENDERERS)
    def download(self, request, pk=None):
        """The file exactly as submitted, as an attachment (parties of its dispute, agents, arbitrators)."""
        evidence: Evidence = self.get_object()
        return self._file_response(
            evidence.file.name,
            content_type=evidence.content_type,
            filename=content.download_name(evidence.original_name, evidence.content_type),
            attachment=True,
            sha256=evidence.sha256,
        )

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 404: None})
    @action(detail=True, methods=["get"], renderer_classes=FILE_RENDERERS)
    def thumbnail(self, request, pk=None):
        """A server-made JPEG thumbnail of an image, with no EXIF or GPS, for the dashboard."""
        evidence: Evidence = self.get_object()
        if not evidence.thumbnail:
            raise NotFound("this evidence has no thumbnail (not an image)", code="no_thumbnail")
        return self._file_response(
            evidence.thumbnail.name, content_type="image/jpeg", filename=f"evidence-{evidence.pk}.jpg", attachment=False
        )

    @extend_schema(request=s.EvidenceReviewSerializer, responses={200: s.EvidenceSerializer})
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Accept or reject an item with a note (agents, arbitrators); on the dispute's timeline."""
        evidence = self.get_object()
        serializer = s.EvidenceReviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        evidence = services.evidence_review(evidence=evidence, actor=request.user, **serializer.validated_data)
        return Response(s.EvidenceSerializer(evidence).data)

    @extend_schema(parameters=SUBJECT_PARAMS, responses={200: s.ChecklistSerializer})
    @action(detail=False, methods=["get"])
    def checklist(self, request):
        """RULEBOOK §7 for one refund, complaint or case (`?refund=`, `?complaint=` or `?case=`):
        which required items are present, missing, accepted, and how complete it is."""
        params = request.query_params
        for name in ("refund", "complaint", "case"):
            value = params.get(name, "")
            if value.isdigit():
                subject = subject_get_for(request.user, kind=name, pk=int(value))
                return Response(s.ChecklistSerializer(evidence_checklist(subject)).data)
        raise ParseError("give one of refund, complaint, case")
