"""evidence_validate_ids and evidence_attach: how refunds and complaints cite evidence by id."""

import pytest

from core.errors import DomainError, Forbidden, RuleViolation
from core.models import Event
from evidence import services
from evidence.models import Evidence
from evidence.selectors import evidence_validate_ids
from tests.evidence.factories import image_bytes, make_complaint, make_refund

pytestmark = pytest.mark.django_db


def _loose(post_evidence, user):
    return Evidence.objects.get(pk=post_evidence(user, image_bytes()).json()["id"])


def test_a_loose_item_is_the_submitters_alone_until_attached(api, cast, post_evidence):
    item = _loose(post_evidence, cast.buyer)
    assert item.subject is None and item.side == ""
    event = Event.objects.get(action="evidence.submitted")
    assert (event.subject_kind, event.subject_id) == ("evidence", item.pk)
    assert api(cast.buyer).get(f"/api/v1/evidence/{item.pk}/").status_code == 200
    assert api(cast.seller).get(f"/api/v1/evidence/{item.pk}/").status_code == 404


def test_validate_ids_returns_what_the_user_may_cite(cast, refund, post_evidence):
    mine = _loose(post_evidence, cast.buyer)
    on_refund = Evidence.objects.get(pk=post_evidence(cast.seller, image_bytes(), refund=refund.pk).json()["id"])
    got = evidence_validate_ids(ids=[mine.pk, str(on_refund.pk), mine.pk], user=cast.buyer, subject=refund)
    assert got == [mine, on_refund]
    assert evidence_validate_ids(ids=[mine.pk], user=cast.buyer, subject=None) == [mine]
    assert evidence_validate_ids(ids=[], user=cast.buyer, subject=refund) == []


def test_validate_ids_refuses_others_items_and_other_disputes(cast, refund, post_evidence):
    theirs = _loose(post_evidence, cast.other_buyer)
    other_refund = make_refund(buyer=cast.buyer, shop=cast.shop)
    elsewhere = Evidence.objects.get(pk=post_evidence(cast.buyer, image_bytes(), refund=other_refund.pk).json()["id"])
    for ids in ([theirs.pk], [elsewhere.pk], [123456], ["x"]):
        with pytest.raises(RuleViolation) as err:
            evidence_validate_ids(ids=ids, user=cast.buyer, subject=refund)
        assert err.value.code == "invalid_evidence" and err.value.field == "evidence"


def test_attach_links_once_with_the_side_and_an_event(cast, post_evidence):
    item = _loose(post_evidence, cast.buyer)
    complaint = make_complaint(buyer=cast.buyer, shop=cast.shop, type="misdescription")
    services.evidence_attach(evidence=item, subject=complaint, actor=cast.buyer)
    item.refresh_from_db()
    assert (item.complaint_id, item.side) == (complaint.pk, "buyer")
    event = Event.objects.get(action="evidence.attached")
    assert (event.subject_kind, event.subject_id, event.data["sha256"]) == ("complaint", complaint.pk, item.sha256)
    services.evidence_attach(evidence=item, subject=complaint, actor=cast.buyer)  # again: a no-op
    assert Event.objects.filter(action="evidence.attached").count() == 1
    with pytest.raises(DomainError):
        services.evidence_attach(evidence=item, subject=make_refund(buyer=cast.buyer, shop=cast.shop), actor=cast.buyer)


def test_attach_refuses_someone_elses_item_or_dispute(cast, refund, post_evidence):
    item = _loose(post_evidence, cast.other_buyer)
    with pytest.raises(Forbidden):
        services.evidence_attach(evidence=item, subject=refund, actor=cast.buyer)
    with pytest.raises(Forbidden):  # the other buyer is no party to cast.buyer's refund
        services.evidence_attach(evidence=item, subject=refund, actor=cast.other_buyer)
    assert Evidence.objects.get(pk=item.pk).refund_id is None
