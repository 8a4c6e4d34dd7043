from rest_framework import serializers

from .models import Evidence


class EvidenceCreateSerializer(serializers.Serializer):
    """multipart `{file, kind, refund? | complaint? | case?, description}`; at most one subject."""

    file = serializers.FileField(allow_empty_file=True, use_url=False)
    kind = serializers.ChoiceField(choices=Evidence.Kind.choices)
    refund = serializers.IntegerField(min_value=1, required=False)
    complaint = serializers.IntegerField(min_value=1, required=False)
    case = serializers.IntegerField(min_value=1, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        subjects = [k for k in ("refund", "complaint", "case") if attrs.get(k) is not None]
        if len(subjects) > 1:
            raise serializers.ValidationError({"non_field_errors": ["give at most one of refund, complaint, case"]})
        return attrs


class EvidenceSerializer(serializers.ModelSerializer):
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True)
    reviewed_by = serializers.CharField(source="reviewed_by.username", read_only=True, allow_null=True, default=None)
    has_thumbnail = serializers.SerializerMethodField()
    # Read-only model fields lose allow_blank in DRF; the schema must still admit "" (side not known).
    side = serializers.ChoiceField(choices=Evidence.Side.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Evidence
        fields = [
            "id",
            "sha256",
            "size",
            "content_type",
            "kind",
            "description",
            "original_name",
            "refund",
            "complaint",
            "case",
            "side",
            "submitted_by",
            "submitted_at",
            "verdict",
            "review_note",
            "reviewed_by",
            "reviewed_at",
            "has_thumbnail",
        ]
        read_only_fields = fields

    def get_has_thumbnail(self, obj: Evidence) -> bool:
        return bool(obj.thumbnail)


class EvidenceReviewSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=[Evidence.Verdict.ACCEPTED, Evidence.Verdict.REJECTED])
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ChecklistItemSerializer(serializers.Serializer):
    situation = serializers.CharField()
    code = serializers.CharField()  # type: ignore[assignment]
    label = serializers.CharField()  # type: ignore[assignment]
    side = serializers.ChoiceField(choices=["buyer", "seller"])
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=Evidence.Kind.choices))
    required = serializers.BooleanField()  # type: ignore[assignment]
    state = serializers.ChoiceField(choices=["missing", "present", "accepted"])
    evidence = serializers.ListField(child=serializers.IntegerField())


class SituationSerializer(serializers.Serializer):
    code = serializers.CharField()  # type: ignore[assignment]
    label = serializers.CharField()  # type: ignore[assignment]


class ChecklistSerializer(serializers.Serializer):
    situations = SituationSerializer(many=True)
    items = ChecklistItemSerializer(many=True)
    required = serializers.IntegerField()  # type: ignore[assignment]
    present = serializers.IntegerField()
    accepted = serializers.IntegerField()
    percent = serializers.IntegerField()
    complete = serializers.BooleanField()
