from django.conf import settings
from django.db import models
from django.utils import timezone


class CannedReply(models.Model):
    """A canned reply (话术) for one situation of RULEBOOK §10, edited by supervisors and inserted by
    agents in one click. Bodies follow 安抚-查明原因-表明立场-全力解决-真诚道歉-感谢理解."""

    class Situation(models.TextChoices):
        LOGISTICS_DELAY = "logistics_delay", "物流延误"
        LOST_PARCEL = "lost_parcel", "包裹丢失"
        QUALITY = "quality", "质量问题"
        DAMAGE = "damage", "商品破损"
        ATTITUDE = "attitude", "服务态度"
        SLOW_RESPONSE = "slow_response", "回复不及时"

    situation = models.CharField(max_length=30, choices=Situation.choices)
    title = models.CharField(max_length=80)
    body = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["situation", "position", "id"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return f"{self.get_situation_display()} · {self.title}"
