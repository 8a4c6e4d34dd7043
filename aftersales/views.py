"""Thin views: parse, check the role, call one service or selector, render."""

from __future__ import annotations

import csv
import io

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import HasRole
from core.idempotency import idempotent
from core.roles import Role

from . import serializers as s
from . import services
from .selectors import agent_performance, logistics_claim_list, registration_list

StaffOnly = HasRole.of(Role.AGENT, Role.ARBITRATOR)


def _filters(serializer_class, params) -> dict:
    serializer = serializer_class(data=params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# GET, POST and PATCH: a registration or claim is never replaced or deleted.
PATCH_ONLY = ["get", "post", "patch", "head", "options"]


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("source", str, enum=[c for c, _ in s.Registration.Source.choices]),
            OpenApiParameter("type", str, enum=[c for c, _ in s.Registration.Type.choices]),
            OpenApiParameter("status", str, enum=[c for c, _ in s.Registration.Status.choices]),
            OpenApiParameter("handler", int),
            OpenApiParameter("order", int),
            OpenApiParameter("refund", int),
            OpenApiParameter("complaint", int),
        ]
    )
)
class RegistrationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """After-sales registration (售后登记, RULEBOOK §10): agents and arbitrators only."""

    serializer_class = s.RegistrationSerializer
    permission_classes = [StaffOnly]
    http_method_names = PATCH_ONLY

    def get_queryset(self):
        user = self.request.user
        if self.action != "list":
            return registration_list(user=user)
        return registration_list(user=user, **_filters(s.RegistrationFilterSerializer, self.request.query_params))

    def _render(self, registration, code=status.HTTP_200_OK) -> Response:
        return Response(s.RegistrationSerializer(registration).data, status=code)

    @extend_schema(
        request=s.RegistrationCreateSerializer,
        responses={201: s.RegistrationSerializer},
        description=(
            "Register a contact. With `create: {refund: {kind, reason, amount, description}}` or "
            "`create: {complaint: {type, severity?, sku?, promise_kind?, invoice_amount?, contacted_first?, "
            "description}}` plus `buyer` and `order`, the refund or complaint is filed on the buyer's behalf "
            "(the agent recorded as its creator) and linked, in one transaction."
        ),
    )
    @idempotent
    def create(self, request):
        serializer = s.RegistrationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        filing = data.pop("create", None)
        common = {
            "actor": request.user,
            "source": data["source"],
            "type": data.get("type") or "",
            "handler": data.get("handler"),
            "summary": data["summary"],
        }
        if filing and filing.get("refund"):
            registration = services.registration_file_refund(
                **common, order=data["order"], buyer=data["buyer"], **filing["refund"]
            )
        elif filing:
            complaint = dict(filing["complaint"])
            registration = services.registration_file_complaint(
                **common, order=data["order"], buyer=data["buyer"], complaint_type=complaint.pop("type"), **complaint
            )
        else:
            registration = services.registration_create(
                **common,
                result=data["result"],
                order=data.get("order"),
                refund=data.get("refund"),
                complaint=data.get("complaint"),
                buyer=data.get("buyer"),
            )
        return self._render(registration, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.RegistrationUpdateSerializer,
        responses={200: s.RegistrationSerializer},
        description=(
            "Edit, and/or move the status: open → in_progress → resolved | closed (resolved needs a result); "
            "resolved | closed → in_progress reopens. Another move answers 409."
        ),
    )
    def partial_update(self, request, pk=None):
        registration = self.get_object()
        data = _filters(s.RegistrationUpdateSerializer, request.data)
        to = data.pop("status", None)
        registration = services.registration_change(
            registration=registration, actor=request.user, changes=data, status=to
        )
        return self._render(registration)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[c for c, _ in s.LogisticsClaim.Status.choices]),
            OpenApiParameter("parcel_state", str, enum=[c for c, _ in s.LogisticsClaim.ParcelState.choices]),
            OpenApiParameter("carrier", str),
            OpenApiParameter("order", int),
            OpenApiParameter("handler", int),
        ]
    )
)
class LogisticsClaimViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Carrier loss/damage claims (报损, RULEBOOK §10): agents and arbitrators only."""

    serializer_class = s.LogisticsClaimSerializer
    permission_classes = [StaffOnly]
    http_method_names = PATCH_ONLY

    def get_queryset(self):
        user = self.request.user
        if self.action != "list":
            return logistics_claim_list(user=user)
        return logistics_claim_list(user=user, **_filters(s.LogisticsClaimFilterSerializer, self.request.query_params))

    @extend_schema(request=s.LogisticsClaimCreateSerializer, responses={201: s.LogisticsClaimSerializer})
    @idempotent
    def create(self, request):
        data = _filters(s.LogisticsClaimCreateSerializer, request.data)
        claim = services.logistics_claim_report(actor=request.user, **data)
        return Response(s.LogisticsClaimSerializer(claim).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.LogisticsClaimUpdateSerializer,
        responses={200: s.LogisticsClaimSerializer},
        description=(
            "Edit, and/or move the status: reported → claimed → paid | refused (another move answers 409 "
            "`invalid_transition`). Paid records the carrier's payment in the ledger, carrier:<name> → "
            "platform_fund, once. What was claimed is fixed once it is `claimed`."
        ),
    )
    def partial_update(self, request, pk=None):
        claim = self.get_object()
        data = _filters(s.LogisticsClaimUpdateSerializer, request.data)
        transition = {k: data.pop(k) for k in ("status", "paid_amount", "paid_at", "refusal_reason") if k in data}
        claim = services.logistics_claim_change(
            claim=claim, actor=request.user, changes=data, status=transition.pop("status", None), **transition
        )
        return Response(s.LogisticsClaimSerializer(claim).data)


# --- agent performance ------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "scope",
    "id",
    "name",
    "teams",
    "cases_handled",
    "first_responses",
    "median_first_response_seconds",
    "cases_closed",
    "closed_inside_sla",
    "share_inside_sla",
    "overdue",
    "reversed_rulings",
]


class CSVRenderer(renderers.BaseRenderer):
    """`?format=csv` or `Accept: text/csv`: the performance report as a spreadsheet for supervisors."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        out.write("\ufeff")  # Excel reads the Chinese names as UTF-8 only with a BOM
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in data.get("agents", []):
            writer.writerow(
                ["agent", row["agent"], row["username"], ";".join(row["teams"])]
                + [_cell(row[c]) for c in CSV_COLUMNS[4:]]
            )
        for row in data.get("teams", []):
            writer.writerow(["team", row["team"], row["name"], ""] + [_cell(row[c]) for c in CSV_COLUMNS[4:]])
        return out.getvalue().encode("utf-8")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class AgentPerformanceView(APIView):
    """Agent performance from the audit events (RULEBOOK §10; figures defined in docs/DECISIONS.md)."""

    permission_classes = [StaffOnly]
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description="inclusive; a date means its 00:00 China time"
            ),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="exclusive; a date means to its end"),
            OpenApiParameter("team", int),
            OpenApiParameter("format", str, enum=["json", "csv"], description="csv: a spreadsheet for supervisors"),
        ],
        responses={
            200: OpenApiResponse(
                s.PerformanceReportSerializer, description="JSON, or text/csv with ?format=csv / Accept: text/csv"
            )
        },
    )
    def get(self, request):
        query = _filters(s.PerformanceQuerySerializer, request.query_params)
        report = agent_performance(viewer=request.user, **query)
        response = Response(s.PerformanceReportSerializer(report).data)
        if request.accepted_renderer.format == "csv":
            since = timezone.localtime(report.since).date()
            until = timezone.localtime(report.until).date()
            response["Content-Disposition"] = f'attachment; filename="agent-performance-{since}-{until}.csv"'
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors keep their JSON shape `{"code", "detail"}` even when CSV was asked for.
        if response.status_code >= 400 and getattr(request, "accepted_renderer", None) is not None:
            if request.accepted_renderer.format == "csv":
                request.accepted_renderer = renderers.JSONRenderer()
                request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)
