from django.conf import settings
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
            # The sweeper's scan: due, pending, not paused, in the claim's order (due time, then id), so
            # that a claim reads its batch and stops — with the id left out, every claim sorted all the
            # rows due at one time (a presale's shared ship-by date: 100,000 at once) to take 500.
            models.Index(
                fields=["due_at", "id"],
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


class Refund(models.Model):
    """A buyer's refund request on an order (退款), RULEBOOK §3."""

    class Kind(models.TextChoices):
        REFUND_ONLY = "refund_only", "仅退款"
        RETURN_AND_REFUND = "return_and_refund", "退货退款"
        EXCHANGE = "exchange", "换货"

    class Status(models.TextChoices):
        PENDING_SELLER = "pending_seller", "退款协议等待卖家确认"
        SELLER_REFUSED = "seller_refused", "卖家不同意协议,等待买家修改"
        AWAITING_RETURN = "awaiting_return", "已达成退款协议,等待买家退货"
        RETURN_SHIPPED = "return_shipped", "买家已退货,等待卖家确认收货"
        RETURN_REJECTED = "return_rejected", "卖家拒绝收货"
        IN_ARBITRATION = "in_arbitration", "客服介入中"
        REFUNDED = "refunded", "退款成功"
        EXCHANGED = "exchanged", "换货完成"
        CLOSED = "closed", "退款关闭"

    class Stage(models.TextChoices):
        NOT_SHIPPED = "not_shipped", "未发货"
        SHIPPED = "shipped", "已发货未收货"
        RECEIVED = "received", "已收货"

    class FreightPayer(models.TextChoices):
        BUYER = "buyer"
        SELLER = "seller"
        SPLIT = "split"

    TERMINAL = (Status.REFUNDED, Status.EXCHANGED, Status.CLOSED)

    # Indexed by refund_order_status_idx, refund_shop_status_idx and refund_buyer_status_idx, which lead
    # with them (#9: a plain index of each would be paid on every filing and status change).
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds", db_index=False)
    shop = models.ForeignKey("orders.Shop", on_delete=models.PROTECT, related_name="refunds", db_index=False)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds", db_index=False
    )
    # An agent filing on the buyer's behalf (phone, chat); the buyer otherwise.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reason = models.CharField(max_length=30)
    stage = models.CharField(max_length=20, choices=Stage.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_SELLER)
    refusal_count = models.PositiveIntegerField(default=0)  # R-F03
    refusal_reason = models.TextField(blank=True, default="")
    return_address = models.TextField(blank=True, default="")
    return_carrier = models.CharField(max_length=60, blank=True, default="")
    return_tracking_number = models.CharField(max_length=60, blank=True, default="")
    return_shipped_at = models.DateTimeField(null=True, blank=True)
    return_rejection_reason = models.TextField(blank=True, default="")
    express = models.BooleanField(default=False)  # R-F06: the platform advanced the money
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    refunded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=60, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["shop", "status"], name="refund_shop_status_idx"),
            models.Index(fields=["buyer", "status"], name="refund_buyer_status_idx"),
            models.Index(fields=["order", "status"], name="refund_order_status_idx"),
            # The staff's list in its order: its first page a top-N scan (#9).
            models.Index(fields=["-created_at", "-id"], name="refund_created_idx"),
        ]
        constraints = [
            # R-F05: one open refund per order at a time.
            models.UniqueConstraint(
                fields=["order"],
                condition=~models.Q(status__in=["refunded", "exchanged", "closed"]),
                name="refund_one_open_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status not in self.TERMINAL


class Complaint(models.Model):
    """A rights claim judged by the platform (投诉 / 维权), RULEBOOK §4; also a seller's claim against a buyer."""

    class Type(models.TextChoices):
        LATE_SHIPMENT = "late_shipment", "延迟发货"
        OUT_OF_STOCK = "out_of_stock", "缺货"
        PRICE_RAISE = "price_raise", "商家加价不发货"
        FAKE_SHIPMENT = "fake_shipment", "虚假发货"
        BREACH_OF_PROMISE = "breach_of_promise", "违背承诺"
        AFTER_SALES_REFUSED = "after_sales_refused", "未履行售后服务"
        MISDESCRIPTION = "misdescription", "描述不符"
        COUNTERFEIT = "counterfeit", "假冒商品"
        HARASSMENT = "harassment", "恶意骚扰"
        LEAK_INFO = "leak_info", "泄露他人信息"
        NOT_RECEIVED = "not_received", "交易成功但未收到货"
        # Seller claims against buyers (RULEBOOK §4, R-T22)
        MALICIOUS_REVIEW = "malicious_review", "恶意评价"
        EXTORTION = "extortion", "勒索"
        BUYER_HARASSMENT = "buyer_harassment", "买家骚扰"

    class Severity(models.TextChoices):
        SERIOUS = "serious", "严重"
        AFFECTS_USE = "affects_use", "影响使用"
        MINOR = "minor", "轻微"

    class Status(models.TextChoices):
        AWAITING_APPEAL = "awaiting_appeal", "等待被投诉方申诉"
        AWAITING_REBUTTAL = "awaiting_rebuttal", "等待投诉方反驳"
        IN_ARBITRATION = "in_arbitration", "平台处理中"
        UPHELD = "upheld", "投诉成立"
        DISMISSED = "dismissed", "投诉不成立"
        WITHDRAWN = "withdrawn", "已撤销"

    class Party(models.TextChoices):
        BUYER = "buyer"
        SELLER = "seller"

    TERMINAL = (Status.UPHELD, Status.DISMISSED, Status.WITHDRAWN)
    RULE_TYPES = (Type.MISDESCRIPTION, Type.COUNTERFEIT)  # R-C02
    SELLER_CLAIM_TYPES = (Type.MALICIOUS_REVIEW, Type.EXTORTION, Type.BUYER_HARASSMENT)

    # Indexed by complaint_order_type_idx, complaint_shop_status_idx and complaint_buyer_status_idx (#9).
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="complaints", db_index=False)
    shop = models.ForeignKey("orders.Shop", on_delete=models.PROTECT, related_name="complaints", db_index=False)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="complaints", db_index=False
    )
    complainant = models.CharField(max_length=10, choices=Party.choices, default=Party.BUYER)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    type = models.CharField(max_length=30, choices=Type.choices)
    severity = models.CharField(max_length=20, choices=Severity.choices, blank=True, default="")
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AWAITING_APPEAL)
    # What the penalty needs: the item (R-P04, R-P05), the promise broken (R-P03), an invoice amount.
    sku = models.CharField(max_length=80, blank=True, default="")
    promise_kind = models.CharField(max_length=30, blank=True, default="")
    invoice_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # R-C04 / R-C06: did the complainant talk to the other side first? (None: not said)
    contacted_first = models.BooleanField(null=True, blank=True)
    # R-C05: the accused's defence, e.g. "official_letter" with the evidence that carries it.
    defence = models.CharField(max_length=30, blank=True, default="")
    defence_evidence = models.JSONField(default=list, blank=True)
    appeal_statement = models.TextField(blank=True, default="")
    appealed_at = models.DateTimeField(null=True, blank=True)
    rebuttal_statement = models.TextField(blank=True, default="")
    rebutted_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    ruled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["shop", "status"], name="complaint_shop_status_idx"),
            models.Index(fields=["buyer", "status"], name="complaint_buyer_status_idx"),
            models.Index(fields=["order", "type"], name="complaint_order_type_idx"),
            # The staff's list in its order: its first page a top-N scan (#9).
            models.Index(fields=["-created_at", "-id"], name="complaint_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Complaint {self.pk} {self.type} ({self.status})"

    @property
    def accused(self) -> str:
        return self.Party.SELLER if self.complainant == self.Party.BUYER else self.Party.BUYER


class Case(models.Model):
    """The platform taking over a refund or a complaint (客服介入 / 仲裁): the arbitration queue's row."""

    class Kind(models.TextChoices):
        REFUND = "refund", "退款纠纷"
        COMPLAINT = "complaint", "投诉"

    class Status(models.TextChoices):
        OPEN = "open", "待处理"
        AWAITING_EVIDENCE = "awaiting_evidence", "等待举证"
        UNDER_REVIEW = "under_review", "审核中"
        RULED = "ruled", "已裁决"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    refund = models.OneToOneField(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="case")
    complaint = models.OneToOneField(Complaint, null=True, blank=True, on_delete=models.PROTECT, related_name="case")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="cases")
    shop = models.ForeignKey(  # indexed by case_shop_status_idx (#9)
        "orders.Shop", on_delete=models.PROTECT, related_name="cases", db_index=False
    )
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(  # indexed by case_assignee_idx (#9)
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_cases",
        db_index=False,
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    # The case's nearest pending deadline, kept by the services: the queue's sort key.
    next_due_at = models.DateTimeField(null=True, blank=True)
    overdue = models.BooleanField(default=False)  # R-T12 ran out: escalated to the head of the queue
    suspended_at = models.DateTimeField(null=True, blank=True)  # R-T19
    ruled_at = models.DateTimeField(null=True, blank=True)
    ruled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=20, blank=True, default="")
    responsibility = models.CharField(max_length=20, blank=True, default="")
    ruling_note = models.TextField(blank=True, default="")
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    advance_payment = models.BooleanField(default=False)  # §8 先行垫付
    # What the ruling did (penalty ids, ledger movement ids, statuses), so a review can undo it (R-T20).
    ruling_effects = models.JSONField(default=dict, blank=True)
    # R-C03: what the parties agreed before the trade; when recorded it decides the case.
    prior_agreement = models.TextField(blank=True, default="")
    agreement_favours = models.CharField(max_length=10, blank=True, default="")  # buyer | seller
    agreement_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-overdue", "next_due_at", "id"]
        indexes = [
            # The queue's order (overdue first, nearest deadline, id), whole and per status.
            models.Index(models.F("overdue").desc(), "next_due_at", "id", name="case_queue_order_idx"),
            models.Index("status", models.F("overdue").desc(), "next_due_at", "id", name="case_queue_status_idx"),
            models.Index(fields=["assignee", "status"], name="case_assignee_idx"),
            models.Index(fields=["shop", "status"], name="case_shop_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="refund", refund__isnull=False, complaint__isnull=True)
                    | models.Q(kind="complaint", complaint__isnull=False, refund__isnull=True)
                ),
                name="case_one_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} {self.kind} ({self.status})"

    @property
    def subject(self) -> models.Model:
        return self.refund if self.kind == self.Kind.REFUND else self.complaint  # type: ignore[return-value]


class CaseNote(models.Model):
    """An internal note (备注) on a case: platform staff only, never shown to buyer or seller."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note {self.pk} on case {self.case_id}"


class EvidenceRequest(models.Model):
    """An agent asked one party for evidence, with its own deadline (R-T13)."""

    class Status(models.TextChoices):
        OPEN = "open"
        FULFILLED = "fulfilled"
        EXPIRED = "expired"
        CANCELLED = "cancelled"

    case = models.ForeignKey(  # indexed by evreq_case_status_idx
        Case, on_delete=models.PROTECT, related_name="evidence_requests", db_index=False
    )
    party = models.CharField(max_length=10)  # buyer | seller
    note = models.TextField(blank=True, default="")
    hours = models.PositiveIntegerField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    deadline = models.OneToOneField(Deadline, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "status"], name="evreq_case_status_idx")]

    def __str__(self) -> str:
        return f"evidence request {self.pk} to {self.party} on case {self.case_id}"


class CaseReview(models.Model):
    """A party's request to review a ruling (R-T20), decided by a different arbitrator."""

    class Status(models.TextChoices):
        PENDING = "pending"
        UPHELD = "upheld"  # the ruling stands
        REVERSED = "reversed"

    case = models.ForeignKey(  # indexed by review_one_per_party
        Case, on_delete=models.PROTECT, related_name="reviews", db_index=False
    )
    party = models.CharField(max_length=10)  # buyer | seller
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    statement = models.TextField()
    evidence = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "party"], name="review_one_per_party")]

    def __str__(self) -> str:
        return f"review {self.pk} of case {self.case_id} by {self.party}"
