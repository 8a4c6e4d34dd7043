from rest_framework import serializers

from .models import Event, Notification


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "subject_kind", "subject_id", "created_at", "read_at"]
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = Event
        fields = ["id", "at", "actor", "action", "from_status", "to_status", "data"]
        read_only_fields = fields
