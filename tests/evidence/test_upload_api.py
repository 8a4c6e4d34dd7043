"""POST evidence/: the type comes from the bytes, the limit is a 413, names never reach the disk,
and only the dispute's parties and platform staff attach (RULEBOOK §7, issue #6)."""

import hashlib
import re

import pytest

from core.models import Event
from evidence.models import Evidence
from tests.evidence.factories import (
    EXE,
    HTML,
    SVG,
    ZIP,
    image_bytes,
    make_case,
    make_complaint,
    mp4_bytes,
    pdf_bytes,
    text_bytes,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("PNG"), "image/png"),
        (image_bytes("WEBP"), "image/webp"),
        (image_bytes("GIF"), "image/gif"),
        (pdf_bytes(), "application/pdf"),
        (mp4_bytes(), "video/mp4"),
        (text_bytes(), "text/plain"),
        (text_bytes("gb18030"), "text/plain"),
        (b'{"chat": "\xe4\xbd\xa0\xe5\xa5\xbd"}', "text/plain"),
    ],
)
def test_each_allowed_type_is_recognised_by_its_bytes_alone(cast, refund, post_evidence, content, expected):
    # Every file claims to be a ZIP under a meaningless name: only the content can tell.
    response = post_evidence(
        cast.buyer, content, name="upload.zip", content_type="application/zip", refund=refund.pk, kind="other"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["content_type"] == expected
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    evidence = Evidence.objects.get(pk=body["id"])
    assert (evidence.refund_id, evidence.side, evidence.submitted_by) == (refund.pk, "buyer", cast.buyer)


def test_a_png_named_and_declared_as_pdf_is_stored_as_png(cast, refund, post_evidence):
    response = post_evidence(
        cast.buyer, image_bytes("PNG"), name="invoice.pdf", content_type="application/pdf", refund=refund.pk
    )
    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"


@pytest.mark.parametrize(
    ("content", "name", "declared"),
    [
        (EXE, "photo.jpg", "image/jpeg"),  # wrong magic bytes under a lying name and content type
        (ZIP, "chat.txt", "text/plain"),
        (HTML, "proof.png", "image/png"),
        (SVG, "photo.gif", "image/gif"),
        (b"\x00\x01\x02\x03binary junk\xff\xfe", "note.txt", "text/plain"),
    ],
)
def test_content_outside_the_allow_list_is_refused_whatever_it_claims(
    cast, refund, post_evidence, media_root, content, name, declared
):
    response = post_evidence(cast.buyer, content, name=name, content_type=declared, refund=refund.pk)
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_type"
    assert "file" in response.json()
    assert not Evidence.objects.exists()
    assert not list(media_root.rglob("*")) or not any(p.is_file() for p in media_root.rglob("*"))


def test_jpeg_magic_over_garbage_is_not_an_image(cast, refund, post_evidence):
    response = post_evidence(cast.buyer, b"\xff\xd8\xff\xe0" + b"\x00garbage" * 50, name="a.jpg", refund=refund.pk)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_image"


def test_an_empty_file_is_refused(cast, refund, post_evidence):
    response = post_evidence(cast.buyer, b"", name="empty.png", content_type="image/png", refund=refund.pk)
    assert response.status_code == 400
    assert response.json()["code"] == "empty_file"
    assert not Evidence.objects.exists()


def test_a_missing_file_or_kind_is_a_field_error(cast, refund, api):
    response = api(cast.buyer).post("/api/v1/evidence/", {"kind": "photo", "refund": refund.pk}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()
    response = api(cast.buyer).post("/api/v1/evidence/", {"kind": "selfie", "refund": refund.pk}, format="multipart")
    assert response.status_code == 400
    assert "kind" in response.json()


def test_the_size_limit_is_inclusive_and_one_byte_more_is_a_413(cast, refund, post_evidence, settings):
    settings.EVIDENCE_MAX_BYTES = 4096
    at_limit = text_bytes() * 100
    at_limit = at_limit[:4096].decode("utf-8", "ignore").encode().ljust(4096, b"x")
    assert len(at_limit) == 4096
    assert post_evidence(cast.buyer, at_limit, name="a.txt", refund=refund.pk).status_code == 201
    response = post_evidence(cast.buyer, at_limit + b"x", name="b.txt", refund=refund.pk)
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert Evidence.objects.count() == 1


def test_a_body_declared_far_over_the_limit_is_a_413_before_it_is_read(cast, refund, post_evidence, settings):
    settings.EVIDENCE_MAX_BYTES = 1024
    response = post_evidence(cast.buyer, b"a" * (600 * 1024), name="big.txt", refund=refund.pk)
    assert response.status_code == 413
    assert response.json() == {"code": "file_too_large", "detail": "an evidence file may be at most 1024 bytes"}


def test_the_default_limit_is_20_mib(settings):
    assert settings.EVIDENCE_MAX_BYTES == 20 * 1024 * 1024


def test_a_path_traversal_name_never_reaches_the_disk(cast, refund, post_evidence, media_root, tmp_path):
    for name in ("../../../../etc/evil.png", "..\\..\\windows\\evil.png", "/abs/evil.png"):
        response = post_evidence(cast.buyer, image_bytes("PNG"), name=name, refund=refund.pk)
        assert response.status_code == 201, response.json()
        evidence = Evidence.objects.get(pk=response.json()["id"])
        assert evidence.original_name == "evil.png"
        assert re.fullmatch(r"evidence/\d{4}/\d{2}/[0-9a-f]{32}", evidence.file.name)
        stored = media_root / evidence.file.name
        assert stored.is_file() and stored.resolve().is_relative_to(media_root.resolve())
    outside = [p for p in tmp_path.rglob("evil*")]
    assert outside == []


def test_stored_under_a_generated_name_with_the_bytes_unchanged(cast, refund, post_evidence, media_root):
    content = image_bytes("JPEG", exif_gps=True)
    response = post_evidence(cast.buyer, content, name="我的照片.jpg", refund=refund.pk)
    evidence = Evidence.objects.get(pk=response.json()["id"])
    assert (media_root / evidence.file.name).read_bytes() == content  # the original is evidence: untouched
    assert evidence.original_name == "我的照片.jpg"


@pytest.mark.parametrize("who", ["stranger_seller", "other_buyer"])
def test_a_stranger_cannot_attach_to_someone_elses_refund_or_case(cast, refund, post_evidence, who):
    case = make_case(refund)
    for field, pk in (("refund", refund.pk), ("case", case.pk)):
        response = post_evidence(getattr(cast, who), image_bytes(), name="x.png", **{field: pk})
        assert response.status_code == 404, (field, response.json())
        assert response.json()["code"] == "not_found"
    assert not Evidence.objects.exists()
    assert not Event.objects.filter(action="evidence.submitted").exists()


def test_a_nonexistent_subject_is_the_same_404(cast, post_evidence):
    response = post_evidence(cast.buyer, image_bytes(), name="x.png", refund=999999)
    assert response.status_code == 404


def test_integration_and_users_without_a_role_may_not_submit(cast, refund, post_evidence):
    from tests.factories import UserFactory

    assert post_evidence(cast.integration, image_bytes(), refund=refund.pk).status_code == 403
    assert post_evidence(UserFactory(), image_bytes()).status_code == 403
    assert post_evidence(None, image_bytes()).status_code in (401, 403)


def test_parties_and_staff_attach_to_the_case_with_their_side(cast, refund, post_evidence):
    case = make_case(refund)
    cast.shop.staff.add(staffer := __import__("tests.factories").factories.UserFactory(roles=["seller"]))
    sides = {}
    for user in (cast.buyer, cast.seller, staffer, cast.agent, cast.arbitrator):
        response = post_evidence(user, pdf_bytes(), name="p.pdf", case=case.pk, kind="shipping_proof")
        assert response.status_code == 201, (user, response.json())
        sides[user.username] = response.json()["side"]
        assert response.json()["case"] == case.pk
    assert sides == {
        "buyer": "buyer",
        "seller": "seller",
        staffer.username: "seller",
        "agent": "platform",
        "arbitrator": "platform",
    }


def test_the_seller_attaches_to_a_complaint_against_the_shop(cast, post_evidence):
    complaint = make_complaint(buyer=cast.buyer, shop=cast.shop)
    response = post_evidence(cast.seller, pdf_bytes(), complaint=complaint.pk, kind="shipping_proof")
    assert response.status_code == 201
    assert response.json()["side"] == "seller"


def test_at_most_one_subject(cast, refund, post_evidence):
    complaint = make_complaint(buyer=cast.buyer, shop=cast.shop)
    response = post_evidence(cast.buyer, image_bytes(), refund=refund.pk, complaint=complaint.pk)
    assert response.status_code == 400


def test_submission_is_on_the_timeline_with_its_hash(cast, refund, post_evidence):
    content = image_bytes()
    body = post_evidence(cast.buyer, content, refund=refund.pk).json()
    event = Event.objects.get(action="evidence.submitted")
    assert (event.subject_kind, event.subject_id, event.actor) == ("refund", refund.pk, cast.buyer)
    assert event.data["evidence"] == body["id"]
    assert event.data["sha256"] == hashlib.sha256(content).hexdigest()


def test_idempotency_key_replays_the_first_response_and_stores_once(cast, refund, post_evidence):
    content = image_bytes()
    first = post_evidence(cast.buyer, content, refund=refund.pk, headers={"Idempotency-Key": "k1"})
    again = post_evidence(cast.buyer, content, refund=refund.pk, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Evidence.objects.count() == 1
    other = post_evidence(cast.buyer, image_bytes("GIF"), refund=refund.pk, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 422


def test_no_update_or_delete_endpoint(cast, refund, post_evidence, api):
    evidence_id = post_evidence(cast.buyer, image_bytes(), refund=refund.pk).json()["id"]
    client = api(cast.arbitrator)
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(f"/api/v1/evidence/{evidence_id}/", {"description": "x"}, format="json")
        assert response.status_code == 405
    assert Evidence.objects.get(pk=evidence_id).description == ""


def test_every_evidence_endpoint_is_in_the_schema(api, cast):
    response = api(cast.agent).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "multipart/form-data" in paths["/api/v1/evidence/"]["post"]["requestBody"]["content"]
    for path in ("{id}/", "{id}/download/", "{id}/thumbnail/", "{id}/review/", "checklist/"):
        assert f"/api/v1/evidence/{path}" in paths
    assert "413" in paths["/api/v1/evidence/"]["post"]["responses"]
