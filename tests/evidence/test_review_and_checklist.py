"""Review (accepted / rejected with a note, on the timeline) and the RULEBOOK §7 checklist, whose
completeness the queue can sort on."""

import pytest
from django.db.models import F

from core.models import Event
from disputes.models import Case, Refund
from evidence import services
from evidence.models import Evidence, EvidenceStatus
from evidence.selectors import evidence_checklist
from tests.evidence.factories import image_bytes, make_case, make_complaint, make_refund, pdf_bytes, text_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo_id(cast, refund, post_evidence):
    return post_evidence(cast.buyer, image_bytes(), refund=refund.pk, kind="photo").json()["id"]


@pytest.mark.parametrize("who", ["agent", "arbitrator"])
def test_staff_accept_or_reject_with_a_note_on_the_timeline(api, cast, refund, photo_id, who):
    client = api(getattr(cast, who))
    response = client.post(f"/api/v1/evidence/{photo_id}/review/", {"verdict": "rejected", "note": "看不清"})
    assert response.status_code == 200
    assert (response.json()["verdict"], response.json()["review_note"]) == ("rejected", "看不清")
    response = client.post(f"/api/v1/evidence/{photo_id}/review/", {"verdict": "accepted", "note": "补充后清楚"})
    assert response.json()["reviewed_by"] == who
    events = list(Event.objects.filter(action="evidence.reviewed").order_by("seq"))
    assert [(e.subject_kind, e.subject_id, e.from_status, e.to_status) for e in events] == [
        ("refund", refund.pk, "pending", "rejected"),
        ("refund", refund.pk, "rejected", "accepted"),
    ]
    assert events[1].data["note"] == "补充后清楚"


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_parties_see_the_evidence_but_may_not_review_it(api, cast, photo_id, who):
    response = api(getattr(cast, who)).post(f"/api/v1/evidence/{photo_id}/review/", {"verdict": "accepted"})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert Evidence.objects.get(pk=photo_id).verdict == "pending"


@pytest.mark.parametrize("who", ["stranger_seller", "other_buyer", "integration"])
def test_others_do_not_see_it_to_review(api, cast, photo_id, who):
    assert (
        api(getattr(cast, who)).post(f"/api/v1/evidence/{photo_id}/review/", {"verdict": "accepted"}).status_code == 404
    )


def test_a_bad_verdict_is_a_field_error(api, cast, photo_id):
    response = api(cast.agent).post(f"/api/v1/evidence/{photo_id}/review/", {"verdict": "maybe"})
    assert response.status_code == 400
    assert "verdict" in response.json()


def test_evidence_not_yet_on_a_dispute_cannot_be_reviewed(api, cast, post_evidence):
    evidence_id = post_evidence(cast.buyer, image_bytes()).json()["id"]
    response = api(cast.agent).post(f"/api/v1/evidence/{evidence_id}/review/", {"verdict": "accepted"})
    assert response.status_code == 409
    assert response.json()["code"] == "evidence_not_attached"


# --- checklist -------------------------------------------------------------------------------------


def _states(subject):
    return {row["code"]: row["state"] for row in evidence_checklist(subject)["items"]}


def test_quality_refund_needs_the_buyers_photos(api, cast, refund, post_evidence):
    assert _states(refund) == {"problem_photos": "missing"}
    # The seller's photo does not prove the buyer's problem.
    post_evidence(cast.seller, image_bytes(), refund=refund.pk, kind="photo")
    assert _states(refund) == {"problem_photos": "missing"}
    photo_id = post_evidence(cast.buyer, image_bytes(), refund=refund.pk, kind="photo").json()["id"]
    assert _states(refund) == {"problem_photos": "present"}
    api(cast.agent).post(f"/api/v1/evidence/{photo_id}/review/", {"verdict": "accepted"})
    checklist = api(cast.buyer).get(f"/api/v1/evidence/checklist/?refund={refund.pk}").json()
    assert checklist["items"][0]["state"] == "accepted"
    assert checklist["items"][0]["evidence"] == [photo_id]
    assert (checklist["required"], checklist["present"], checklist["accepted"]) == (1, 1, 1)
    assert (checklist["percent"], checklist["complete"]) == (100, True)


def test_a_rejected_item_does_not_count(api, cast, refund, photo_id):
    api(cast.agent).post(f"/api/v1/evidence/{photo_id}/review/", {"verdict": "rejected", "note": "不是本商品"})
    assert _states(refund) == {"problem_photos": "missing"}


def test_late_shipment_complaint_needs_the_sellers_shipping_proof_and_chat_log(cast, post_evidence):
    complaint = make_complaint(buyer=cast.buyer, shop=cast.shop, type="late_shipment")
    checklist = evidence_checklist(complaint)
    assert [(r["code"], r["side"], r["required"]) for r in checklist["items"]] == [
        ("shipping_proof", "seller", True),
        ("chat_log", "seller", True),
        ("official_letter", "seller", False),
    ]
    assert (checklist["percent"], checklist["complete"]) == (0, False)
    post_evidence(cast.seller, pdf_bytes(), complaint=complaint.pk, kind="shipping_proof")
    assert evidence_checklist(complaint)["percent"] == 50
    post_evidence(cast.seller, text_bytes(), complaint=complaint.pk, kind="chat_log")
    checklist = evidence_checklist(complaint)
    assert (checklist["percent"], checklist["complete"]) == (100, True)
    assert _states(complaint)["official_letter"] == "missing"  # optional: does not hold completeness back


@pytest.mark.parametrize(
    ("reason", "status", "expected"),
    [
        ("not_delivered", "pending_seller", {"tracking_proof"}),
        ("damaged", "return_rejected", {"problem_photos", "arrival_proof"}),
        ("no_reason_7d", "pending_seller", set()),
    ],
)
def test_refund_situations(cast, reason, status, expected):
    refund = make_refund(buyer=cast.buyer, shop=cast.shop, reason=reason, status=status)
    assert set(_states(refund)) == expected


def test_breach_of_promise_is_satisfied_by_any_communication_record(cast, post_evidence):
    complaint = make_complaint(buyer=cast.buyer, shop=cast.shop, type="breach_of_promise")
    assert _states(complaint) == {"communication": "missing"}
    post_evidence(cast.seller, text_bytes(), complaint=complaint.pk, kind="sms")
    assert _states(complaint) == {"communication": "present"}


def test_a_case_counts_the_evidence_of_its_refund_and_its_own(cast, refund, post_evidence):
    case = make_case(refund)
    assert _states(case) == {"problem_photos": "missing"}
    post_evidence(cast.buyer, image_bytes(), case=case.pk, kind="photo")
    assert _states(case) == {"problem_photos": "present"}
    assert _states(refund) == {"problem_photos": "present"}


def test_completeness_is_stored_and_the_queue_sorts_on_it(cast, post_evidence):
    refunds = [make_refund(buyer=cast.buyer, shop=cast.shop) for _ in range(2)]
    cases = [make_case(r) for r in refunds]
    for case in cases:
        services.evidence_status_refresh(subject=case)
    assert EvidenceStatus.objects.get(case=cases[0]).percent == 0
    post_evidence(cast.buyer, image_bytes(), refund=refunds[1].pk, kind="photo")
    assert EvidenceStatus.objects.get(case=cases[1]).percent == 100  # kept by the submission
    assert EvidenceStatus.objects.get(refund=refunds[1]).complete is True
    queue = Case.objects.order_by(F("evidence_status__percent").desc(nulls_last=True), "id")
    assert list(queue) == [cases[1], cases[0]]
    # Refreshing a case refreshes its refund too.
    assert list(Refund.objects.filter(evidence_status__complete=False)) == [refunds[0]]


def test_the_checklist_of_another_partys_dispute_is_a_404(api, cast, refund):
    assert api(cast.stranger_seller).get(f"/api/v1/evidence/checklist/?refund={refund.pk}").status_code == 404
    assert api(cast.agent).get(f"/api/v1/evidence/checklist/?refund={refund.pk}").status_code == 200
    assert api(cast.agent).get("/api/v1/evidence/checklist/").status_code == 400
