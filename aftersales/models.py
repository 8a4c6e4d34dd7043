"""After-sales registration (售后登记), carrier claims (报损) and agent teams, RULEBOOK §10.

Agent performance has no table of its own: it is read from core.Event (aftersales/performance.py).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone


class Team(models.Model):
    """A team of agents (客服组) for the performance report; kept in the admin."""

    name = models.CharField(max_length=80, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="aftersales_teams")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Registration(models.Model):
    """One after-sales contact as an agent registered it: source, type, handler, status, result (§10)."""

    class Source(models.TextChoices):
        PHONE = "phone", "电话"
        CHAT = "chat", "在线咨询"
        WEB = "web", "网页"
        EMAIL = "email", "邮件"
        AGENT = "agent", "客服主动"

    class Type(models.TextChoices):
        # The situations of RULEBOOK §10 (canned replies), plus the disputes a contact is about.
        REFUND = "refund", "退款"
        RETURN = "return", "退货"
        EXCHANGE = "exchange", "换货"
        COMPLAINT = "complaint", "投诉"
        LOGISTICS_DELAY = "logistics_delay", "物流延误"
        LOST_PARCEL = "lost_parcel", "包裹丢失"
        QUALITY = "quality", "质量问题"
        DAMAGE = "damage", "破损"
        ATTITUDE = "attitude", "服务态度"
        SLOW_RESPONSE = "slow_response", "响应慢"
        INQUIRY = "inquiry", "咨询"
        OTHER = "other", "其他"

    class Status(models.TextChoices):
        OPEN = "open", "待处理"
        IN_PROGRESS = "in_progress", "处理中"
        RESOLVED = "resolved", "已解决"
        CLOSED = "closed", "已关闭"  # ended without a resolution: duplicate, unreachable, nothing to do

    TERMINAL = (Status.RESOLVED, Status.CLOSED)

    source = models.CharField(max_length=10, choices=Source.choices)
    type = models.CharField(max_length=20, choices=Type.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    handler = models.ForeignKey(  # indexed by registration_handler_idx
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    summary = models.TextField(blank=True, default="")
    result = models.TextField(blank=True, default="")
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="registrations"
    )
    refund = models.ForeignKey(
        "disputes.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="registrations"
    )
    complaint = models.ForeignKey(
        "disputes.Complaint", null=True, blank=True, on_delete=models.PROTECT, related_name="registrations"
    )
    # The customer who contacted us (the order's buyer when an order is linked).
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="registration_status_idx"),
            models.Index(fields=["handler", "status"], name="registration_handler_idx"),
        ]

    def __str__(self) -> str:
        return f"Registration {self.pk} {self.source}/{self.type} ({self.status})"


class LogisticsClaim(models.Model):
    """A loss/damage claim against a carrier (报损), followed until the carrier pays or refuses (§10)."""

    class ParcelState(models.TextChoices):
        DAMAGED = "damaged", "破损"
        LOST = "lost", "丢件"
        DELAYED = "delayed", "延误"

    class Status(models.TextChoices):
        REPORTED = "reported", "已登记"
        CLAIMED = "claimed", "已向快递索赔"
        PAID = "paid", "快递已赔付"
        REFUSED = "refused", "快递拒赔"

    TERMINAL = (Status.PAID, Status.REFUSED)

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="logistics_claims")
    # At most 32 characters: the ledger account "carrier:<name>" must fit LedgerEntry.account (40).
    carrier = models.CharField(max_length=32)
    tracking_number = models.CharField(max_length=60)
    parcel_state = models.CharField(max_length=10, choices=ParcelState.choices)
    item = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REPORTED)
    reported_at = models.DateTimeField(default=timezone.now)  # the report date (报损日期)
    handler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True, default="")
    carrier_reference = models.CharField(max_length=80, blank=True, default="")  # the carrier's claim number
    claimed_at = models.DateTimeField(null=True, blank=True)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.TextField(blank=True, default="")
    # The carrier's payment in the ledger; one-to-one, so it is recorded exactly once.
    movement = models.OneToOneField(
        "penalties.LedgerMovement", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-reported_at", "-id"]
        indexes = [models.Index(fields=["status", "-reported_at"], name="logclaim_status_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gt=0), name="logclaim_price_positive"),
            models.CheckConstraint(
                condition=~models.Q(status="paid") | models.Q(paid_amount__gt=0, movement__isnull=False),
                name="logclaim_paid_recorded",
            ),
        ]

    def __str__(self) -> str:
        return f"LogisticsClaim {self.pk} {self.carrier} {self.tracking_number} ({self.status})"
