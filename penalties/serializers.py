from rest_framework import serializers

from .models import LedgerMovement, Penalty


class PenaltySerializer(serializers.ModelSerializer):
    source = serializers.SerializerMethodField()  # type: ignore[assignment]

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
            "revoked_at",
            "revoke_reason",
        ]
        read_only_fields = fields

    def get_source(self, obj: Penalty) -> dict:
        return {"kind": obj.source_kind, "id": obj.source_id}


class PenaltyRevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class LedgerMovementSerializer(serializers.ModelSerializer):
    source = serializers.SerializerMethodField()  # type: ignore[assignment]

    class Meta:
        model = LedgerMovement
        fields = ["id", "at", "debit", "credit", "amount", "currency", "reason", "source", "order", "shop", "penalty"]
        read_only_fields = fields

    def get_source(self, obj: LedgerMovement) -> dict:
        return {"kind": obj.source_kind, "id": obj.source_id}
