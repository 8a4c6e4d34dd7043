from django.conf import settings
from django.db import models
from django.utils import timezone

# The foreign keys of the tables R-T01's batch writes (the penalties, the ledger's movements and entries)
# are checked per statement, not per row: their fields say `db_constraint=SET_CHECKED` (no constraint
# of Django's) and their migration adds core.storage.SetCheckedForeignKey, which enforces the same on
# PostgreSQL with statement triggers (#9; DECISIONS.md, "The sweeper's tables keep their foreign keys").
SET_CHECKED = False


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

    # Indexed by penalty_shop_idx / penalty_item_idx, which lead with the shop (issue #9: every index
    # is paid for on each of the sweeper's inserts).
    shop = models.ForeignKey(
        "orders.Shop", on_delete=models.PROTECT, related_name="penalties", db_index=False, db_constraint=SET_CHECKED
    )
    code = models.CharField(max_length=10)  # r_p01 … r_p07
    points = models.PositiveIntegerField(default=0)
    point_class = models.CharField(max_length=1, choices=PointClass.choices, default=PointClass.A)
    compensation_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    compensation_form = models.CharField(max_length=10, choices=Form.choices, default=Form.CASH)
    source_kind = models.CharField(max_length=20)  # order | refund | complaint
    source_id = models.BigIntegerField()
    order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="penalties",
        db_constraint=SET_CHECKED,
    )
    beneficiary = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=SET_CHECKED,
    )
    # The deadline whose timeout issued it: at most one penalty per deadline, enforced by the database.
    deadline = models.OneToOneField(
        "disputes.Deadline",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="penalty",
        db_constraint=SET_CHECKED,
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(  # partial index below: null for everything the sweeper issues
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=SET_CHECKED,
    )
    note = models.CharField(max_length=300, blank=True, default="")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(  # partial index below
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=SET_CHECKED,
    )
    revoke_reason = models.CharField(max_length=300, blank=True, default="")
    # R-P04 / R-P05: the item (shop + SKU) and situation; the ladder's step and what it did to the item.
    sku = models.CharField(max_length=80, blank=True, default="")
    severity = models.CharField(max_length=30, blank=True, default="")
    ladder_step = models.PositiveSmallIntegerField(null=True, blank=True)
    item_action = models.CharField(max_length=10, blank=True, default="")  # "", delist, delete

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [
            # R-P11 sums a shop's points of the year under the shop's lock, for every batch of the
            # sweeper: the class and points ride in the index, so the sum is an index-only scan (#9).
            models.Index(
                fields=["shop", "status", "issued_at"], include=["point_class", "points"], name="penalty_shop_idx"
            ),
            # R-P04's same-item lookup (penalties.services), the one reader: only item penalties name a
            # SKU, so the sweeper's (R-T01's) penalties add no entry. No index on the source: nothing
            # looks a penalty up by it (the order's penalties go through `order`).
            models.Index(
                fields=["shop", "code", "sku", "severity", "issued_at"],
                condition=~models.Q(sku=""),
                name="penalty_item_idx",
            ),
            # The users' foreign keys, indexed where set (a user's deletion check still finds them).
            models.Index(
                fields=["issued_by"], condition=models.Q(issued_by__isnull=False), name="penalty_issued_by_idx"
            ),
            models.Index(
                fields=["revoked_by"], condition=models.Q(revoked_by__isnull=False), name="penalty_revoked_by_idx"
            ),
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
    order = models.ForeignKey(  # indexed by ledger_order_idx
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=SET_CHECKED,
    )
    shop = models.ForeignKey(
        "orders.Shop", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=SET_CHECKED
    )
    penalty = models.ForeignKey(
        Penalty, null=True, blank=True, on_delete=models.PROTECT, related_name="movements", db_constraint=SET_CHECKED
    )

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

    movement = models.ForeignKey(
        LedgerMovement, on_delete=models.PROTECT, related_name="entries", db_constraint=SET_CHECKED
    )
    account = models.CharField(max_length=40)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=10)

    class Meta:
        indexes = [models.Index(fields=["account", "currency"], name="ledger_entry_account_idx")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount} {self.currency}"


class ItemAction(models.Model):
    """What a penalty did to an item (shop + SKU): delisted or deleted (R-P04, R-P05).

    Orders only carry SKUs, so the item's listing state is this table: the latest action not reverted.
    A revoked penalty reverts its action (R-P12).
    """

    class Action(models.TextChoices):
        DELIST = "delist", "下架 delisted"
        DELETE = "delete", "删除 deleted"

    shop = models.ForeignKey(  # indexed by item_action_item_idx
        "orders.Shop", on_delete=models.PROTECT, related_name="item_actions", db_index=False
    )
    sku = models.CharField(max_length=80)
    action = models.CharField(max_length=10, choices=Action.choices)
    penalty = models.OneToOneField(Penalty, on_delete=models.PROTECT, related_name="item_action_row")
    at = models.DateTimeField(default=timezone.now)
    reverted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["shop", "sku", "-at"], name="item_action_item_idx")]

    def __str__(self) -> str:
        return f"{self.action} shop {self.shop_id} sku {self.sku}"


class Obligation(models.Model):
    """What a seller penalised for breach of promise must still perform (R-P03): open until performed."""

    class Status(models.TextChoices):
        OPEN = "open"
        PERFORMED = "performed"
        CANCELLED = "cancelled"  # its penalty was revoked: nothing was breached

    penalty = models.OneToOneField(Penalty, on_delete=models.PROTECT, related_name="obligation")
    shop = models.ForeignKey(  # indexed by obligation_shop_status_idx
        "orders.Shop", on_delete=models.PROTECT, related_name="obligations", db_index=False
    )
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30)  # core.rulebook.BREACH_OF_PROMISE_KINDS
    description = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    performed_at = models.DateTimeField(null=True, blank=True)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["shop", "status"], name="obligation_shop_status_idx")]

    def __str__(self) -> str:
        return f"{self.kind} shop {self.shop_id} ({self.status})"


class Sanction(models.Model):
    """A sanction a shop earned by crossing a points threshold of its class in a natural year (R-P11).

    Each (shop, class, threshold, year) fires once: a partial unique constraint over the rows not
    lifted. Its end is a deadline (rule R-P11, kind r_p11_sanction_end); a revocation that takes the
    points back under the threshold lifts it (R-P12).
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        ENDED = "ended"
        LIFTED = "lifted"

    shop = models.ForeignKey(  # indexed by sanction_shop_status_idx
        "orders.Shop", on_delete=models.PROTECT, related_name="sanctions", db_index=False
    )
    point_class = models.CharField(max_length=1, choices=Penalty.PointClass.choices)
    threshold = models.PositiveIntegerField()
    year = models.PositiveSmallIntegerField()  # natural year, China time (R-P10)
    kind = models.CharField(max_length=40)  # core.rulebook.SANCTIONS_A kinds
    days = models.PositiveIntegerField(null=True, blank=True)  # None: until the platform lifts it
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    penalty = models.ForeignKey(Penalty, on_delete=models.PROTECT, related_name="sanctions")  # the one that crossed
    ended_at = models.DateTimeField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lift_reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["starts_at", "threshold", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "point_class", "threshold", "year"],
                condition=~models.Q(status="lifted"),
                name="sanction_once_per_year",
            ),
        ]
        indexes = [models.Index(fields=["shop", "status"], name="sanction_shop_status_idx")]

    def __str__(self) -> str:
        return f"{self.kind} shop {self.shop_id} ({self.point_class}{self.threshold}, {self.year})"
