"""The world the security tests act on: one of each object, all of the cast's buyer and shop."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.models import Notification
from disputes.models import Refund
from evidence import services as evidence_services
from penalties.models import Obligation, Penalty
from tests.evidence.factories import image_bytes, make_case, make_complaint, make_refund
from tests.factories import OrderFactory


@pytest.fixture(autouse=True)
def role_groups(request):
    """The role groups come from a data migration; a transactional test that ran before (in this
    xdist worker) emptied every table, groups included. Put them back before the cast is made."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from django.contrib.auth.models import Group

    from core.roles import Role

    for role in Role:
        Group.objects.get_or_create(name=role.value)


@pytest.fixture
def world(cast, settings, tmp_path):
    """One of each object, all of the cast's buyer and shop; the stranger seller owns another shop."""
    settings.MEDIA_ROOT = tmp_path / "media"
    now = timezone.now()
    refund = make_refund(buyer=cast.buyer, shop=cast.shop)
    disputed = make_refund(buyer=cast.buyer, shop=cast.shop, status=Refund.Status.IN_ARBITRATION)
    complaint = make_complaint(buyer=cast.buyer, shop=cast.shop)
    order = refund.order
    penalty = Penalty.objects.create(shop=cast.shop, code="r_p03", points=0, source_kind="order", source_id=order.pk)
    obligation = Obligation.objects.create(penalty=penalty, shop=cast.shop, order=order, kind="after_sales")
    evidence = evidence_services.evidence_submit(
        file=SimpleUploadedFile("photo.png", image_bytes("PNG"), content_type="image/png"),
        kind="photo",
        actor=cast.buyer,
        subject=refund,
    )
    from aftersales import services as aftersales

    registration = aftersales.registration_create(
        actor=cast.agent, source="phone", type="inquiry", summary="买家来电", order=order
    )
    claim = aftersales.logistics_claim_report(
        actor=cast.agent,
        order=order,
        parcel_state="damaged",
        item="棉袄",
        price=Decimal("10.00"),
        carrier="中通",
        tracking_number="ZT1",
    )
    Notification.objects.create(user=cast.buyer, kind="test", title="你好")
    return SimpleNamespace(
        shop=cast.shop,
        order=order,
        fresh_order=OrderFactory(
            buyer=cast.buyer,
            shop=cast.shop,
            status="completed",
            paid_at=now - dt.timedelta(days=4),
            shipped_at=now - dt.timedelta(days=3),
            signed_at=now - dt.timedelta(days=2),
            completed_at=now - dt.timedelta(days=1),
        ),
        refund=refund,
        complaint=complaint,
        case=make_case(disputed),
        penalty=penalty,
        obligation=obligation,
        evidence=evidence,
        registration=registration,
        logistics_claim=claim,
    )
