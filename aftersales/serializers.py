"""Input and output shapes of registrations, carrier claims and the performance report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import rulebook
from core.roles import Role, platform_staff
from disputes.models import Complaint, Refund
from orders.models import Order

from .models import LogisticsClaim, Registration, Team

User = get_user_model()

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


@extend_schema_field(OpenApiTypes.INT)  # a user's id, as the field with a queryset said
class _StaffField(serializers.PrimaryKeyRelatedField):
    """An agent, arbitrator or superuser by id, the staff read when a request is validated (not when
    the serializer class is defined: core.roles.platform_staff reads the groups when called)."""

    def get_queryset(self):
        return platform_staff()


def _staff_field(**kwargs) -> serializers.PrimaryKeyRelatedField:
    return _StaffField(**kwargs)


# --- registrations ------------------------------------------------------------------------------------


class RegistrationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Registration
        fields = [
            "id",
            "source",
            "type",
            "status",
            "handler",
            "summary",
            "result",
            "order",
            "refund",
            "complaint",
            "buyer",
            "created_by",
            "created_at",
            "updated_at",
            "resolved_at",
        ]
        read_only_fields = fields


class RefundFilingSerializer(serializers.Serializer):
    """The refund an agent files for the buyer (as `POST refunds/`)."""

    kind = serializers.ChoiceField(choices=Refund.Kind.choices)
    reason = serializers.ChoiceField(choices=[(r, r) for r in rulebook.ALL_REFUND_REASONS])
    amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.00"))
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ComplaintFilingSerializer(serializers.Serializer):
    """The complaint an agent files for the buyer (as `POST complaints/`; evidence is uploaded after)."""

    type = serializers.ChoiceField(
        choices=[(c, label) for c, label in Complaint.Type.choices if c not in Complaint.SELLER_CLAIM_TYPES]
    )
    severity = serializers.ChoiceField(choices=Complaint.Severity.choices, required=False, allow_blank=True, default="")
    sku = serializers.CharField(required=False, allow_blank=True, default="", max_length=80)
    promise_kind = serializers.ChoiceField(
        choices=[(k, v) for k, v in rulebook.BREACH_OF_PROMISE_KINDS.items()],
        required=False,
        allow_blank=True,
        default="",
    )
    invoice_amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"), required=False, allow_null=True)
    contacted_first = serializers.BooleanField(required=False, allow_null=True, default=None)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class FilingSerializer(serializers.Serializer):
    """Exactly one of `refund` or `complaint`: what to file for the buyer in the same step."""

    refund = RefundFilingSerializer(required=False)
    complaint = ComplaintFilingSerializer(required=False)

    def validate(self, attrs):
        if len([k for k in ("refund", "complaint") if attrs.get(k) is not None]) != 1:
            raise serializers.ValidationError("give exactly one of refund or complaint")
        return attrs


class RegistrationCreateSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=Registration.Source.choices)  # type: ignore[assignment]
    type = serializers.ChoiceField(
        choices=Registration.Type.choices,
        required=False,
        help_text="required unless `create` is given (then it follows what is filed)",
    )
    handler = _staff_field(required=False, help_text="an agent or arbitrator; the caller by default")
    summary = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    result = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    order = serializers.PrimaryKeyRelatedField(queryset=Order.objects.all(), required=False, allow_null=True)
    refund = serializers.PrimaryKeyRelatedField(queryset=Refund.objects.all(), required=False, allow_null=True)
    complaint = serializers.PrimaryKeyRelatedField(queryset=Complaint.objects.all(), required=False, allow_null=True)
    buyer = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(groups__name=Role.BUYER), required=False, allow_null=True
    )
    create = FilingSerializer(  # type: ignore[assignment]  # a field: DRF takes it off the class
        required=False,
        help_text=(
            "One step for a buyer who phoned: file this refund or complaint on the buyer's behalf (with `buyer` "
            "and `order`) and register it, in one transaction. The agent is recorded as its creator."
        ),
    )

    def validate(self, attrs):
        if attrs.get("create"):
            errors = {name: ["required with create"] for name in ("order", "buyer") if not attrs.get(name)}
            errors.update({name: ["not with create"] for name in ("refund", "complaint") if attrs.get(name)})
            if errors:
                raise serializers.ValidationError(errors)
        elif not attrs.get("type"):
            raise serializers.ValidationError({"type": ["This field is required."]})
        return attrs


class RegistrationUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Registration.Status.choices, required=False)
    type = serializers.ChoiceField(choices=Registration.Type.choices, required=False)
    handler = _staff_field(required=False)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    result = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    order = serializers.PrimaryKeyRelatedField(queryset=Order.objects.all(), required=False, allow_null=True)
    refund = serializers.PrimaryKeyRelatedField(queryset=Refund.objects.all(), required=False, allow_null=True)
    complaint = serializers.PrimaryKeyRelatedField(queryset=Complaint.objects.all(), required=False, allow_null=True)


class RegistrationFilterSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=Registration.Source.choices, required=False)  # type: ignore[assignment]
    type = serializers.ChoiceField(choices=Registration.Type.choices, required=False)
    status = serializers.ChoiceField(choices=Registration.Status.choices, required=False)
    handler = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, source="handler_id")
    order = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, source="order_id")
    refund = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, source="refund_id")
    complaint = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, source="complaint_id")


# --- carrier claims (报损) -----------------------------------------------------------------------------


class LogisticsClaimSerializer(serializers.ModelSerializer):
    class Meta:
        model = LogisticsClaim
        fields = [
            "id",
            "order",
            "carrier",
            "tracking_number",
            "parcel_state",
            "item",
            "price",
            "status",
            "reported_at",
            "handler",
            "note",
            "carrier_reference",
            "claimed_at",
            "paid_amount",
            "paid_at",
            "refused_at",
            "refusal_reason",
            "movement",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class LogisticsClaimCreateSerializer(serializers.Serializer):
    order = serializers.PrimaryKeyRelatedField(queryset=Order.objects.all())
    carrier = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=32, help_text="the order's carrier by default"
    )
    tracking_number = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=60, help_text="the order's by default"
    )
    parcel_state = serializers.ChoiceField(choices=LogisticsClaim.ParcelState.choices)
    item = serializers.CharField(max_length=200)
    price = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"))
    reported_at = serializers.DateTimeField(required=False, help_text="the report date; now by default")
    handler = _staff_field(required=False, help_text="an agent or arbitrator; the caller by default")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class LogisticsClaimUpdateSerializer(serializers.Serializer):
    """Edits, and at most one status change: reported → claimed → paid | refused."""

    status = serializers.ChoiceField(choices=LogisticsClaim.Status.choices, required=False)
    paid_amount = serializers.DecimalField(
        **MONEY, min_value=Decimal("0.01"), required=False, help_text="with status paid; the price by default"
    )
    paid_at = serializers.DateTimeField(required=False, help_text="with status paid; now by default")
    refusal_reason = serializers.CharField(required=False, max_length=5000, help_text="with status refused")
    carrier_reference = serializers.CharField(required=False, allow_blank=True, max_length=80)
    handler = _staff_field(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    carrier = serializers.CharField(required=False, max_length=32)
    tracking_number = serializers.CharField(required=False, max_length=60)
    parcel_state = serializers.ChoiceField(choices=LogisticsClaim.ParcelState.choices, required=False)
    item = serializers.CharField(required=False, max_length=200)
    price = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"), required=False)
    reported_at = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        status = attrs.get("status")
        errors = {}
        for name, needs in (("paid_amount", "paid"), ("paid_at", "paid"), ("refusal_reason", "refused")):
            if name in attrs and status != needs:
                errors[name] = [f"only with status {needs}"]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class LogisticsClaimFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=LogisticsClaim.Status.choices, required=False)
    parcel_state = serializers.ChoiceField(choices=LogisticsClaim.ParcelState.choices, required=False)
    carrier = serializers.CharField(required=False, max_length=32)
    order = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, source="order_id")
    handler = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, source="handler_id")


# --- agent performance ----------------------------------------------------------------------------------


class _Moment(serializers.Field):
    """An ISO 8601 time with offset, or a date (China time): `since` a date is its 00:00, `until` a date
    is the end of that day."""

    def __init__(self, *, end_of_day: bool, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                start = dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_default_timezone())
                value = start + dt.timedelta(days=1) if self.end_of_day else start
            else:
                value = serializers.DateTimeField().to_internal_value(text)
        except (ValueError, OverflowError):
            raise serializers.ValidationError("an ISO 8601 date or time, e.g. 2026-11-01 or 2026-11-01T09:00:00+08:00")
        if not 2000 <= value.year <= 2100:
            raise serializers.ValidationError("a time between the years 2000 and 2100")
        return value

    def to_representation(self, value):
        return timezone.localtime(value).isoformat()


class PerformanceQuerySerializer(serializers.Serializer):
    since = _Moment(end_of_day=False, required=False, help_text="inclusive; 30 days before `until` by default")
    until = _Moment(end_of_day=True, required=False, help_text="exclusive (a date: to the end of it); now by default")
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False)

    def validate(self, attrs):
        until = attrs.get("until") or timezone.now()
        try:
            since = attrs.get("since") or until - dt.timedelta(days=30)
        except OverflowError:
            since = dt.datetime.min.replace(tzinfo=dt.UTC)
        if since >= until:
            raise serializers.ValidationError({"since": ["must be before until"]})
        return {**attrs, "since": since, "until": until}


class AgentPerformanceSerializer(serializers.Serializer):
    agent = serializers.IntegerField()
    username = serializers.CharField()
    teams = serializers.ListField(child=serializers.CharField())
    cases_handled = serializers.IntegerField(help_text="cases with at least one event by the agent in the period")
    first_responses = serializers.IntegerField(help_text="cases whose first platform answer was the agent's")
    median_first_response_seconds = serializers.FloatField(allow_null=True)
    cases_closed = serializers.IntegerField(help_text="cases ruled in the period that the agent had acted on")
    closed_inside_sla = serializers.IntegerField()
    share_inside_sla = serializers.FloatField(allow_null=True, help_text="closed_inside_sla ÷ cases_closed")
    overdue = serializers.IntegerField()
    reversed_rulings = serializers.IntegerField()


class TeamPerformanceSerializer(serializers.Serializer):
    team = serializers.IntegerField()
    name = serializers.CharField()
    members = serializers.IntegerField()
    cases_handled = serializers.IntegerField()
    first_responses = serializers.IntegerField()
    median_first_response_seconds = serializers.FloatField(allow_null=True)
    cases_closed = serializers.IntegerField()
    closed_inside_sla = serializers.IntegerField()
    share_inside_sla = serializers.FloatField(allow_null=True)
    overdue = serializers.IntegerField()
    reversed_rulings = serializers.IntegerField()


class PerformanceReportSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    team = serializers.IntegerField(source="team_id", allow_null=True)
    agents = AgentPerformanceSerializer(many=True)
    teams = TeamPerformanceSerializer(many=True, help_text="arbitrators only; empty for agents")
