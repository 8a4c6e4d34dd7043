from django.db import models
from django.utils import timezone


class Deadline(models.Model):
    """A rule's clock on one subject (order, refund, complaint, case): a row, swept when due.

    `duration_amount` / `duration_unit` keep what the due time was computed with, so a later change
    to the rulebook never moves a running clock and the dashboard can say why (RULEBOOK §2).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        FIRED = "fired"
        CANCELLED = "cancelled"

    subject_kind = models.CharField(max_length=20)  # order | refund | complaint | case
    subject_id = models.BigIntegerField()
    rule = models.CharField(max_length=10)  # "R-T01"
    kind = models.CharField(max_length=60)  # "r_t01_ship"
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    duration_amount = models.IntegerField()
    duration_unit = models.CharField(max_length=40)  # a core.rulebook.Calendar value
    note = models.CharField(max_length=200, blank=True, default="")  # e.g. calendar fallback warning
    created_at = models.DateTimeField(default=timezone.now)
    # Claim lease or retry back-off: the sweeper leaves the row alone until then.
    not_before = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    fired_at = models.DateTimeField(null=True, blank=True)
    fired_by = models.CharField(max_length=60, blank=True, default="")  # "sweep" or the event that fired it
    outcome = models.CharField(max_length=200, blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True, default="")
    # R-T19: a paused clock keeps the time it had left and is not swept.
    paused_at = models.DateTimeField(null=True, blank=True)
    remaining = models.DurationField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The sweeper's scan: due, pending, not paused.
            models.Index(
                fields=["due_at"],
                name="deadline_due_pending_idx",
                condition=models.Q(status="pending", paused_at__isnull=True),
            ),
            models.Index(fields=["subject_kind", "subject_id"], name="deadline_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_kind}:{self.subject_id} {self.status} {self.due_at:%Y-%m-%d %H:%M:%S}"

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None
