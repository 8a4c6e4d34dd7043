from django.conf import settings
from django.db import models
from django.utils import timezone


class Event(models.Model):
    """The audit log: one row per transition. The timelines users see are this table (append-only)."""

    # Not indexed alone: timelines read a subject's events (event_chain_seq_uniq), the admin lists the
    # newest first by id, and every transition would pay for an index nobody reads (#9).
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(  # partial index below: null for the sweeper's events
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # "system" for the deadline engine and other unattended work; the username otherwise.
    actor_label = models.CharField(max_length=150, default="system")
    action = models.CharField(max_length=80)  # dotted: "order.paid", "deadline.fired"
    subject_kind = models.CharField(max_length=20)  # order | refund | complaint | case | shop | penalty
    subject_id = models.BigIntegerField()
    from_status = models.CharField(max_length=40, blank=True, default="")
    to_status = models.CharField(max_length=40, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    # Tamper evidence (RULEBOOK §7): each subject's events form a hash chain, see core/chain.py.
    # Written by core.services.event_record; null `seq` means a row written around it.
    seq = models.PositiveIntegerField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        # A subject's events are found through event_chain_seq_uniq (subject_kind, subject_id, seq); an
        # index per foreign key and per subject would be paid on every insert of the sweeper (#9).
        indexes = [
            models.Index(fields=["actor", "at"], condition=models.Q(actor__isnull=False), name="event_actor_at_idx")
        ]
        constraints = [
            models.UniqueConstraint(fields=["subject_kind", "subject_id", "seq"], name="event_chain_seq_uniq"),
        ]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.subject_kind}:{self.subject_id}"


class EventChain(models.Model):
    """The head of one subject's event chain (core/chain.py): its row lock keeps concurrent writers
    from forking the chain, and its length shows a removed newest event."""

    subject_kind = models.CharField(max_length=20)
    subject_id = models.BigIntegerField()
    length = models.PositiveIntegerField(default=0)
    prev_hash = models.CharField(max_length=64, default="")
    head_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject_kind", "subject_id"], name="event_chain_subject_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_kind}:{self.subject_id} #{self.length} {self.head_hash[:12]}"


class Notification(models.Model):
    """A message to one user: reminders, actions the other party must take, rulings."""

    user = models.ForeignKey(  # indexed by notification_user_idx
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    kind = models.CharField(max_length=60)  # dotted, like events: "order.late_shipment"
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    subject_kind = models.CharField(max_length=20, blank=True, default="")
    subject_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="notification_user_idx")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title}"


class IdempotencyRecord(models.Model):
    """The first response to a creating POST with an Idempotency-Key (CONTRACT.md)."""

    user = models.ForeignKey(  # indexed by idempotency_user_key_uniq
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null while in progress
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_uniq")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class CalendarDay(models.Model):
    """An operator's correction to the working-day calendar (a holiday or a make-up working day)."""

    date = models.DateField(unique=True)
    is_working_day = models.BooleanField()
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'working' if self.is_working_day else 'rest'} {self.note}"
