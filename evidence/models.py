from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils import timezone


def evidence_storage():
    """The "evidence" storage alias (config/settings/base.py): local disk or an S3-compatible bucket."""
    return storages["evidence"]


class Evidence(models.Model):
    """One submitted file (凭证 / 举证), RULEBOOK §7. The file, its SHA-256 and its size never change
    once stored; a correction is a new item. Only the review (and linking a not-yet-linked item to
    its refund, complaint or case) is written later."""

    class Kind(models.TextChoices):
        PHOTO = "photo", "照片"
        VIDEO = "video", "视频"
        CHAT_LOG = "chat_log", "聊天记录 / 旺旺举证号"
        SITE_MESSAGE = "site_message", "站内信"
        SHIPPING_PROOF = "shipping_proof", "发货凭证 / 物流记录"
        PURCHASE_PROOF = "purchase_proof", "进货凭证"
        SMS = "sms", "短信"
        CALL_RECORD = "call_record", "通话记录"
        OFFICIAL_LETTER = "official_letter", "公函 (如停发公函)"
        OTHER = "other", "其他"

    class Side(models.TextChoices):
        BUYER = "buyer", "买家"
        SELLER = "seller", "卖家"
        PLATFORM = "platform", "平台"

    class Verdict(models.TextChoices):
        PENDING = "pending", "待审核"
        ACCEPTED = "accepted", "采纳"
        REJECTED = "rejected", "不采纳"

    # Stored under a generated name (evidence/<yyyy>/<mm>/<uuid>), never the uploader's.
    file = models.FileField(storage=evidence_storage, max_length=255)
    original_name = models.CharField(max_length=255, blank=True, default="")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(blank=True, default="")
    content_type = models.CharField(max_length=100)  # decided by the bytes (evidence/content.py)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    thumbnail = models.FileField(storage=evidence_storage, max_length=255, blank=True, default="")
    # What it is evidence for: at most one; none while it waits to be cited by a new complaint.
    refund = models.ForeignKey(
        "disputes.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="evidence"
    )
    complaint = models.ForeignKey(
        "disputes.Complaint", null=True, blank=True, on_delete=models.PROTECT, related_name="evidence"
    )
    case = models.ForeignKey("disputes.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="evidence")
    # The subject's shop and buyer, copied when it is linked (evidence.services._link): a party's list
    # is read through them, not through every refund, complaint and case the party has (#9). Indexed
    # by evidence_shop_idx / evidence_buyer_idx where set.
    shop = models.ForeignKey(
        "orders.Shop", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    submitted_by = models.ForeignKey(  # indexed by evidence_submitter_idx
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    side = models.CharField(max_length=10, choices=Side.choices, blank=True, default="")
    submitted_at = models.DateTimeField(default=timezone.now)
    verdict = models.CharField(max_length=10, choices=Verdict.choices, default=Verdict.PENDING)
    review_note = models.TextField(blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["submitted_at", "id"]
        verbose_name_plural = "evidence"
        indexes = [
            models.Index(fields=["submitted_by", "-submitted_at"], name="evidence_submitter_idx"),
            # The staff's list in its order (#9): its first page is read from here, not sorted whole.
            models.Index(fields=["submitted_at", "id"], name="evidence_submitted_idx"),
            # A party's list (#9): the evidence on their shops' disputes, and on their own as a buyer.
            models.Index(
                fields=["shop", "submitted_at", "id"], condition=models.Q(shop__isnull=False), name="evidence_shop_idx"
            ),
            models.Index(
                fields=["buyer", "submitted_at", "id"],
                condition=models.Q(buyer__isnull=False),
                name="evidence_buyer_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    ~models.Q(refund__isnull=False, complaint__isnull=False)
                    & ~models.Q(refund__isnull=False, case__isnull=False)
                    & ~models.Q(complaint__isnull=False, case__isnull=False)
                ),
                name="evidence_at_most_one_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"Evidence {self.pk} {self.kind} {self.sha256[:12]}"

    @property
    def subject(self) -> models.Model | None:
        return self.refund or self.complaint or self.case


class EvidenceStatus(models.Model):
    """The stored evidence checklist summary of one refund, complaint or case (RULEBOOK §7), kept by
    evidence.services.evidence_status_refresh so the queue can sort on completeness:
    `Case.objects.order_by("evidence_status__percent")`."""

    refund = models.OneToOneField(
        "disputes.Refund", null=True, blank=True, on_delete=models.CASCADE, related_name="evidence_status"
    )
    complaint = models.OneToOneField(
        "disputes.Complaint", null=True, blank=True, on_delete=models.CASCADE, related_name="evidence_status"
    )
    case = models.OneToOneField(
        "disputes.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="evidence_status"
    )
    required = models.PositiveSmallIntegerField(default=0)  # required checklist items
    present = models.PositiveSmallIntegerField(default=0)  # required items with evidence not rejected
    accepted = models.PositiveSmallIntegerField(default=0)  # required items with accepted evidence
    percent = models.PositiveSmallIntegerField(default=100)  # present ÷ required, 100 when none required
    complete = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "evidence statuses"
        indexes = [models.Index(fields=["percent"], name="evidence_status_percent_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(refund__isnull=False, complaint__isnull=True, case__isnull=True)
                    | models.Q(refund__isnull=True, complaint__isnull=False, case__isnull=True)
                    | models.Q(refund__isnull=True, complaint__isnull=True, case__isnull=False)
                ),
                name="evidence_status_one_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.present}/{self.required} ({self.percent}%)"
