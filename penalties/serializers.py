from rest_framework import serializers

from .models import LedgerMovement, Obligation, Penalty, Sanction


class ObligationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Obligation
        fields = ["id", "penalty", "shop", "order", "kind", "description", "status", "created_at", "performed_at"]
        read_only_fields = fields


class PenaltySerializer(serializers.ModelSerializer):
    source = serializers.SerializerMethodField()  # type: ignore[assignment]
    obligation = serializers.SerializerMethodField()

    class Meta:
        model = Penalty
        fields = [
            "id",
            "shop",
            "code",
            "points",
            "point_class",
            "compensation_amount",
            "compensation_form",
            "source",
            "source_kind",
            "source_id",
            "order",
            "status",
            "issued_at",
            "note",
            "sku",
            "severity",
            "ladder_step",
            "item_action",
            "obligation",
            "revoked_at",
            "revoke_reason",
        ]
        read_only_fields = fields

    def get_source(self, obj: Penalty) -> dict:
        return {"kind": obj.source_kind, "id": obj.source_id}

    def get_obligation(self, obj: Penalty) -> dict | None:
        obligation = getattr(obj, "obligation", None)
        return ObligationSerializer(obligation).data if obligation is not None else None


class PenaltyFilterSerializer(serializers.Serializer):
    """GET penalties/ filters; a malformed one is a 400, never ignored."""

    shop = serializers.IntegerField(required=False, min_value=1)
    year = serializers.IntegerField(required=False, min_value=2000, max_value=2999)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


class PenaltyRevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class ObligationPerformSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class SanctionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sanction
        fields = ["kind", "starts_at", "ends_at", "point_class", "threshold", "year", "status"]
        read_only_fields = fields


class PointsSerializer(serializers.Serializer):
    A = serializers.IntegerField()
    B = serializers.IntegerField()


class ShopRecordSerializer(serializers.Serializer):
    """GET shops/{id}/record/ (CONTRACT.md): `{year, points: {A, B}, sanctions, metrics}`."""

    shop = serializers.IntegerField()
    year = serializers.IntegerField()
    points = PointsSerializer()
    sanctions = SanctionSerializer(many=True)
    metrics = serializers.DictField()


class ShopRecordQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(required=False, min_value=2000, max_value=2999)


class LedgerMovementSerializer(serializers.ModelSerializer):
    source = serializers.SerializerMethodField()  # type: ignore[assignment]

    class Meta:
        model = LedgerMovement
        fields = ["id", "at", "debit", "credit", "amount", "currency", "reason", "source", "order", "shop", "penalty"]
        read_only_fields = fields

    def get_source(self, obj: LedgerMovement) -> dict:
        return {"kind": obj.source_kind, "id": obj.source_id}
