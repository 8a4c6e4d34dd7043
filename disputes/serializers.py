from decimal import Decimal

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import rulebook
from core.models import Event
from core.roles import Role
from orders.models import Order

from .models import Case, CaseNote, CaseReview, Complaint, Deadline, EvidenceRequest, Refund
from .representation import deadlines_data
from .selectors import deadlines_of

User = get_user_model()


class DeadlineSerializer(serializers.ModelSerializer):
    """A clock, with why it is what it is: its rule id, the rule's words and the duration used."""

    rule_words = serializers.SerializerMethodField()
    on_timeout = serializers.SerializerMethodField()
    duration = serializers.SerializerMethodField()
    paused = serializers.SerializerMethodField()

    class Meta:
        model = Deadline
        fields = [
            "id",
            "kind",
            "rule",
            "status",
            "started_at",
            "due_at",
            "duration",
            "rule_words",
            "on_timeout",
            "note",
            "paused",
            "remaining",
            "fired_at",
            "fired_by",
            "outcome",
            "cancelled_at",
            "cancel_reason",
        ]
        read_only_fields = fields

    def get_rule_words(self, obj: Deadline) -> str:
        timer = rulebook.TIMERS.get(obj.rule)
        return timer.words if timer else ""

    def get_on_timeout(self, obj: Deadline) -> str:
        timer = rulebook.TIMERS.get(obj.rule)
        return timer.on_timeout if timer else ""

    def get_duration(self, obj: Deadline) -> str:
        return f"{obj.duration_amount} {obj.duration_unit}"

    def get_paused(self, obj: Deadline) -> bool:
        return obj.paused_at is not None


# --- refunds -------------------------------------------------------------------------------------


class OrderSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    total_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    shipping_fee = serializers.DecimalField(max_digits=10, decimal_places=2)
    free_shipping = serializers.BooleanField()
    paid_at = serializers.DateTimeField(allow_null=True)
    shipped_at = serializers.DateTimeField(allow_null=True)
    signed_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)


class RefundSerializer(serializers.ModelSerializer):
    order = OrderSummarySerializer(read_only=True)
    shop_name = serializers.CharField(source="shop.name", read_only=True)
    return_freight_payer = serializers.SerializerMethodField()
    return_freight_note = serializers.SerializerMethodField()
    deadlines = serializers.SerializerMethodField()
    case = serializers.SerializerMethodField()

    class Meta:
        model = Refund
        fields = [
            "id",
            "order",
            "shop",
            "shop_name",
            "buyer",
            "created_by",
            "kind",
            "reason",
            "stage",
            "amount",
            "description",
            "status",
            "refusal_count",
            "refusal_reason",
            "return_address",
            "return_carrier",
            "return_tracking_number",
            "return_shipped_at",
            "return_rejection_reason",
            "return_freight_payer",
            "return_freight_note",
            "express",
            "refunded_amount",
            "refunded_at",
            "closed_at",
            "close_reason",
            "case",
            "created_at",
            "updated_at",
            "deadlines",
        ]
        read_only_fields = fields

    def _freight(self, obj: Refund):
        from .services.refunds import refund_freight_payer

        cached = getattr(obj, "_freight", None)
        if cached is None:
            cached = obj._freight = refund_freight_payer(obj)  # type: ignore[attr-defined]
        return cached

    @extend_schema_field(serializers.ChoiceField(choices=Refund.FreightPayer.choices))
    def get_return_freight_payer(self, obj: Refund) -> str:
        return self._freight(obj).payer

    def get_return_freight_note(self, obj: Refund) -> str:
        return self._freight(obj).note

    @extend_schema_field(DeadlineSerializer(many=True))
    def get_deadlines(self, obj: Refund):
        return deadlines_data(deadlines_of(obj))

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_case(self, obj: Refund) -> int | None:
        case = getattr(obj, "case", None)
        return case.pk if case is not None else None


class OnBehalfSerializer(serializers.Serializer):
    """A filing on an order the caller can see; agents filing for a buyer name the buyer."""

    order = serializers.PrimaryKeyRelatedField(queryset=Order.objects.none())  # scoped to the caller in __init__
    buyer = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(groups__name=Role.BUYER),
        required=False,
        help_text="agents filing on a buyer's behalf name the buyer",
    )

    def __init__(self, *args, orders=None, **kwargs):
        super().__init__(*args, **kwargs)
        if orders is not None:  # the schema generator instantiates it without: keep the typed none()
            self.fields["order"].queryset = orders  # type: ignore[attr-defined]


class RefundRequestSerializer(serializers.Serializer):
    """What a refund request asks, apart from the order: kind, reason, amount, description."""

    kind = serializers.ChoiceField(choices=Refund.Kind.choices)
    reason = serializers.ChoiceField(choices=[(r, r) for r in rulebook.ALL_REFUND_REASONS])
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.00"))
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RefundCreateSerializer(OnBehalfSerializer, RefundRequestSerializer):
    # POST refunds/: the order (and, for agents, the buyer), then the request; its schema describes it
    # with OnBehalfSerializer's words.
    pass


# One instance for every request, as a ListSerializer keeps one child: `run_validation` keeps nothing
# on the instance, and DRF builds a serializer's fields (deep copies) at each instantiation.
_REFUND_REQUEST = RefundRequestSerializer()


def refund_request_on_own_order(data) -> dict | None:
    """POST refunds/'s body, validated as RefundCreateSerializer would validate it, when it is a JSON
    object that RefundCreateSerializer would accept from a buyer filing on an order of theirs: the
    order as an unread `Order(pk=…)` (the caller must check that it is the caller's, refund_file's
    `buyer` does that under the lock). None for anything else (a form, a `buyer`, an order id that is
    not a plain integer, any invalid field): RefundCreateSerializer decides, and words the errors."""
    if type(data) is not dict or "buyer" in data:
        return None
    order_id = data.get("order")
    if type(order_id) is not int or not 0 < order_id < 2**63:
        return None
    try:
        fields = _REFUND_REQUEST.run_validation(data)
    except serializers.ValidationError:
        return None
    return {"order": Order(pk=order_id), **fields}


class RefundApproveSerializer(serializers.Serializer):
    return_address = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class RefundRefuseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    evidence = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)


class RefundModifySerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.00"), required=False)
    reason = serializers.ChoiceField(choices=[(r, r) for r in rulebook.ALL_REFUND_REASONS], required=False)
    kind = serializers.ChoiceField(choices=Refund.Kind.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReturnShipmentSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=60)
    tracking_number = serializers.CharField(max_length=60)


class ReplacementShipmentSerializer(ReturnShipmentSerializer):
    picked_up_at = serializers.DateTimeField()


class EscalateSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class TimelineEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = Event
        fields = ["id", "at", "actor", "action", "from_status", "to_status", "data"]
        read_only_fields = fields


# --- cases ---------------------------------------------------------------------------------------


class CaseSerializer(serializers.ModelSerializer):
    shop_name = serializers.CharField(source="shop.name", read_only=True)
    assignee_name = serializers.CharField(source="assignee.username", read_only=True, default=None, allow_null=True)
    deadlines = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "kind",
            "status",
            "refund",
            "complaint",
            "order",
            "shop",
            "shop_name",
            "buyer",
            "assignee",
            "assignee_name",
            "opened_at",
            "next_due_at",
            "overdue",
            "suspended_at",
            "ruled_at",
            "outcome",
            "responsibility",
            "refund_amount",
            "created_at",
            "updated_at",
            "deadlines",
        ]
        read_only_fields = fields

    @extend_schema_field(DeadlineSerializer(many=True))
    def get_deadlines(self, obj: Case):
        return deadlines_data(deadlines_of(obj))


class CaseDetailSerializer(CaseSerializer):
    subject = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "subject"]
        read_only_fields = fields

    @extend_schema_field(RefundSerializer)
    def get_subject(self, obj: Case):
        if obj.refund_id:
            return RefundSerializer(obj.refund).data
        return {"kind": "complaint", "id": obj.complaint_id}


# --- complaints ----------------------------------------------------------------------------------


class ComplaintSerializer(serializers.ModelSerializer):
    deadlines = serializers.SerializerMethodField()
    case = serializers.SerializerMethodField()
    shop_name = serializers.CharField(source="shop.name", read_only=True)
    # Read-only model fields lose allow_blank in DRF; the schema must still admit "" (no severity).
    severity = serializers.ChoiceField(choices=Complaint.Severity.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Complaint
        fields = [
            "id",
            "order",
            "shop",
            "shop_name",
            "buyer",
            "complainant",
            "created_by",
            "type",
            "severity",
            "sku",
            "promise_kind",
            "invoice_amount",
            "contacted_first",
            "description",
            "status",
            "appeal_statement",
            "appealed_at",
            "defence",
            "defence_evidence",
            "rebuttal_statement",
            "rebutted_at",
            "withdrawn_at",
            "ruled_at",
            "case",
            "created_at",
            "updated_at",
            "deadlines",
        ]
        read_only_fields = fields

    @extend_schema_field(DeadlineSerializer(many=True))
    def get_deadlines(self, obj: Complaint):
        return deadlines_data(deadlines_of(obj))

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_case(self, obj: Complaint) -> int | None:
        case = getattr(obj, "case", None)
        return case.pk if case is not None else None


class ComplaintCreateSerializer(OnBehalfSerializer):
    type = serializers.ChoiceField(choices=Complaint.Type.choices)
    severity = serializers.ChoiceField(choices=Complaint.Severity.choices, required=False, allow_blank=True, default="")
    sku = serializers.CharField(required=False, allow_blank=True, default="", max_length=80)
    promise_kind = serializers.ChoiceField(
        choices=[(k, v) for k, v in rulebook.BREACH_OF_PROMISE_KINDS.items()],
        required=False,
        allow_blank=True,
        default="",
    )
    invoice_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False, allow_null=True
    )
    contacted_first = serializers.BooleanField(required=False, allow_null=True, default=None)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    evidence = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)


class StatementSerializer(serializers.Serializer):
    statement = serializers.CharField(max_length=5000)
    evidence = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)


# --- case actions --------------------------------------------------------------------------------


class CaseAssignSerializer(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())


class CaseRequestEvidenceSerializer(serializers.Serializer):
    party = serializers.ChoiceField(choices=[("buyer", "buyer"), ("seller", "seller")])
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    hours = serializers.IntegerField(required=False, min_value=1, max_value=10000)


class CaseNoteSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = CaseNote
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = ["id", "author", "created_at"]
        extra_kwargs = {"body": {"max_length": 5000}}


class CaseRuleSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=[(o, o) for o in ("buyer_wins", "seller_wins", "partial")])
    responsibility = serializers.ChoiceField(choices=[(r, r) for r in ("buyer", "seller", "logistics", "platform")])
    refund_amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False, allow_null=True
    )
    advance_payment = serializers.BooleanField(required=False, default=False)
    override_agreement = serializers.BooleanField(required=False, default=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class CaseReviewRequestSerializer(serializers.Serializer):
    statement = serializers.CharField(max_length=5000)
    evidence = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False)


class CaseReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseReview
        fields = [
            "id",
            "party",
            "requested_by",
            "statement",
            "evidence",
            "status",
            "decided_by",
            "decision_note",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


class CaseReviewDecideSerializer(serializers.Serializer):
    review = serializers.IntegerField(min_value=1)
    decision = serializers.ChoiceField(choices=[("upheld", "upheld"), ("reversed", "reversed")])
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class CaseAgreementSerializer(serializers.Serializer):
    terms = serializers.CharField(max_length=5000)
    favours = serializers.ChoiceField(choices=[("buyer", "buyer"), ("seller", "seller")])


class EvidenceRequestSerializer(serializers.ModelSerializer):
    due_at = serializers.DateTimeField(source="deadline.due_at", read_only=True, default=None)

    class Meta:
        model = EvidenceRequest
        fields = ["id", "party", "note", "hours", "status", "created_at", "closed_at", "due_at"]
        read_only_fields = fields


class RiskSignalSerializer(serializers.Serializer):
    code = serializers.CharField()  # type: ignore[assignment]
    rule = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    fact = serializers.CharField()
    value = serializers.JSONField()


class CaseFullSerializer(CaseSerializer):
    """GET cases/{id}/: the prior agreement first (R-C03), then the subject, evidence, risk signals, the
    evidence requests, reviews and internal notes (staff only: this endpoint is the platform's)."""

    prior_agreement = serializers.SerializerMethodField()
    subject = serializers.SerializerMethodField()
    evidence = serializers.SerializerMethodField()
    evidence_checklist = serializers.SerializerMethodField()
    risk_signals = serializers.SerializerMethodField()
    evidence_requests = EvidenceRequestSerializer(many=True, read_only=True)
    reviews = CaseReviewSerializer(many=True, read_only=True)
    notes = CaseNoteSerializer(many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [
            "prior_agreement",
            *CaseSerializer.Meta.fields,
            "ruling_note",
            "advance_payment",
            "ruling_effects",
            "subject",
            "evidence",
            "evidence_checklist",
            "risk_signals",
            "evidence_requests",
            "reviews",
            "notes",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_prior_agreement(self, obj: Case):
        if not obj.prior_agreement:
            return None
        return {"terms": obj.prior_agreement, "favours": obj.agreement_favours, "rule": "R-C03"}

    @extend_schema_field(serializers.JSONField())
    def get_subject(self, obj: Case):
        if obj.refund_id:
            return {"kind": "refund", **RefundSerializer(obj.refund).data}
        return {"kind": "complaint", **ComplaintSerializer(obj.complaint).data}

    @extend_schema_field(serializers.JSONField())
    def get_evidence(self, obj: Case):
        from evidence.selectors import evidence_of
        from evidence.serializers import EvidenceSerializer

        return EvidenceSerializer(evidence_of(obj), many=True).data

    @extend_schema_field(serializers.JSONField())
    def get_evidence_checklist(self, obj: Case):
        from evidence.selectors import evidence_checklist

        return evidence_checklist(obj)

    @extend_schema_field(RiskSignalSerializer(many=True))
    def get_risk_signals(self, obj: Case):
        from .selectors import buyer_risk_signals

        return buyer_risk_signals(case=obj)
