from django.conf import settings
from django.db import models
from django.utils import timezone


class Penalty(models.Model):
    """Points on a shop's record for one violation, with the compensation paid to the buyer (RULEBOOK §5)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        REVOKED = "revoked"

    class PointClass(models.TextChoices):
        A = "A"
        B = "B"

    class Form(models.TextChoices):
        CASH = "cash"
        POINTS = "points"

    shop = models.ForeignKey("orders.Shop", on_delete=models.PROTECT, related_name="penalties")
    code = models.CharField(max_length=10)  # r_p01 … r_p07
    points = models.PositiveIntegerField(default=0)
    point_class = models.CharField(max_length=1, choices=PointClass.choices, default=PointClass.A)
    compensation_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    compensation_form = models.CharField(max_length=10, choices=Form.choices, default=Form.CASH)
    source_kind = models.CharField(max_length=20)  # order | refund | complaint
    source_id = models.BigIntegerField()
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="penalties")
    beneficiary = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The deadline whose timeout issued it: at most one penalty per deadline, enforced by the database.
    deadline = models.OneToOneField(
        "disputes.Deadline", null=True, blank=True, on_delete=models.PROTECT, related_name="penalty"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True, default="")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoke_reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [
            models.Index(fields=["shop", "status", "issued_at"], name="penalty_shop_idx"),
            models.Index(fields=["source_kind", "source_id"], name="penalty_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} shop {self.shop_id} {self.points} pts"


class LedgerMovement(models.Model):
    """One money movement: `amount` leaves `debit` and arrives at `credit` (RULEBOOK R-P13).

    Its two entries sum to zero; balances are sums of entries, never stored.
    """

    class Currency(models.TextChoices):
        CNY = "CNY"
        POINTS = "points"

    at = models.DateTimeField(default=timezone.now)
    debit = models.CharField(max_length=40)  # "shop:3", "buyer:7", "platform", "platform_fund", "frozen:shop:3"
    credit = models.CharField(max_length=40)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=10, choices=Currency.choices, default=Currency.CNY)
    reason = models.CharField(max_length=60)  # dotted: "compensation.r_p01", "refund.executed"
    source_kind = models.CharField(max_length=20, blank=True, default="")
    source_id = models.BigIntegerField(null=True, blank=True)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    shop = models.ForeignKey("orders.Shop", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    penalty = models.ForeignKey(Penalty, null=True, blank=True, on_delete=models.PROTECT, related_name="movements")

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="ledger_amount_positive"),
            models.CheckConstraint(condition=~models.Q(debit=models.F("credit")), name="ledger_two_accounts"),
        ]
        indexes = [models.Index(fields=["order"], name="ledger_order_idx")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} {self.debit} -> {self.credit} ({self.reason})"


class LedgerEntry(models.Model):
    """One side of a movement: negative on the debited account, positive on the credited one."""

    movement = models.ForeignKey(LedgerMovement, on_delete=models.PROTECT, related_name="entries")
    account = models.CharField(max_length=40)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=10)

    class Meta:
        indexes = [models.Index(fields=["account", "currency"], name="ledger_entry_account_idx")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount} {self.currency}"
