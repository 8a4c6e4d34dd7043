from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from core.rulebook import ShopKind


class Shop(models.Model):
    class Kind(models.TextChoices):
        MARKETPLACE = ShopKind.MARKETPLACE.value, "集市 marketplace"
        MALL = ShopKind.MALL.value, "商城 mall"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MARKETPLACE)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_shops")
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="staffed_shops")
    category = models.CharField(max_length=60, blank=True, default="")
    return_address = models.TextField(blank=True, default="")
    # A shop-wide shipping promise shorter than R-T01's 72 h, e.g. 24 for 闪电发货.
    shipping_promise_hours = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "等待付款"
        PAID = "paid", "已付款,待发货"
        SHIPPED = "shipped", "已发货"
        DELIVERED = "delivered", "已签收"
        COMPLETED = "completed", "交易成功"
        CLOSED = "closed", "交易关闭"

    # The foreign keys are indexed by order_shop_status_idx and order_buyer_idx, which lead with them: a
    # plain index of either would be one more entry on every insert and status change (#9).
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders", db_index=False)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", db_index=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AWAITING_PAYMENT)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    shipping_fee = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00"), validators=[MinValueValidator(Decimal("0"))]
    )
    free_shipping = models.BooleanField(default=False)
    # Where the goods go: R-C06 counts the buyer accounts that share it.
    shipping_address = models.CharField(max_length=300, blank=True, default="")
    presale_ship_by = models.DateTimeField(null=True, blank=True)
    promised_ship_hours = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # R-T01: when the carrier must have picked the parcel up; null when exempt or not paid.
    ship_by = models.DateTimeField(null=True, blank=True)
    ship_exempt_reason = models.CharField(max_length=60, blank=True, default="")
    shipped_at = models.DateTimeField(null=True, blank=True)  # the carrier's first scan
    signed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["shop", "status"], name="order_shop_status_idx"),
            models.Index(fields=["buyer", "-created_at"], name="order_buyer_idx"),
            # The staff's list (agents, the shop platform) in its order: its first page a top-N scan (#9).
            models.Index(fields=["-created_at", "-id"], name="order_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk}"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    title = models.CharField(max_length=200)
    sku = models.CharField(max_length=80)
    category = models.CharField(max_length=60, blank=True, default="")
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    discounted = models.BooleanField(default=False)  # 特价/清仓/秒杀 (RULEBOOK §6)
    custom_made = models.BooleanField(default=False)  # 定制: exempt from R-T01

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


class Shipment(models.Model):
    class Kind(models.TextChoices):
        DELIVERY = "delivery"
        REPLACEMENT = "replacement"  # R-F00 / R-T21

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DELIVERY)
    carrier = models.CharField(max_length=60)
    tracking_number = models.CharField(max_length=60)
    picked_up_at = models.DateTimeField()  # ship time is the carrier's first scan (RULEBOOK §1)
    entered_at = models.DateTimeField(default=timezone.now)  # when the seller typed it in
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"


class Review(models.Model):
    """A buyer's review of an order (评价), pushed by the shop platform. An upheld seller's claim of a
    malicious review hides it (RULEBOOK §4)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reviews")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    rating = models.PositiveSmallIntegerField()  # 1 (差评) … 5
    text = models.TextField(blank=True, default="")
    posted_at = models.DateTimeField(default=timezone.now)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-posted_at", "-id"]

    def __str__(self) -> str:
        return f"review {self.pk} of order {self.order_id}"
