from rest_framework import serializers

from core import rulebook

from .models import Deadline


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
