"""GET evidence/{id}/, download/ and thumbnail/: the dispute's parties and platform staff only, every
other role a 404; files as attachments with nosniff; thumbnails carry no EXIF or GPS."""

import io

import pytest
from PIL import Image

from evidence.models import Evidence
from tests.evidence.factories import image_bytes, make_case, pdf_bytes
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ALLOWED = ["buyer", "seller", "shop_staff", "agent", "arbitrator"]
DENIED = ["stranger_seller", "other_buyer", "integration", "no_role"]


@pytest.fixture
def people(cast):
    staff = UserFactory(username="shop_staff", roles=["seller"])
    cast.shop.staff.add(staff)
    return {**vars(cast), "shop_staff": staff, "no_role": UserFactory(username="no_role")}


@pytest.fixture
def photo(cast, refund, post_evidence):
    content = image_bytes("JPEG", size=(800, 600), exif_gps=True)
    body = post_evidence(cast.buyer, content, name="袖口.jpg", refund=refund.pk).json()
    return Evidence.objects.get(pk=body["id"]), content


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("who", ALLOWED)
def test_parties_and_staff_download_the_file_as_an_attachment(api, people, photo, who):
    evidence, content = photo
    response = api(people[who]).get(f"/api/v1/evidence/{evidence.pk}/download/")
    assert response.status_code == 200
    assert _body(response) == content
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''%E8%A2%96%E5%8F%A3.jpg" in response["Content-Disposition"]
    assert response["X-Evidence-SHA256"] == evidence.sha256


@pytest.mark.parametrize("who", DENIED)
def test_everyone_else_gets_a_404_for_every_read(api, people, photo, who):
    evidence, _ = photo
    client = api(people[who])
    for suffix in ("", "download/", "thumbnail/"):
        response = client.get(f"/api/v1/evidence/{evidence.pk}/{suffix}")
        assert response.status_code == 404, suffix
    assert client.get("/api/v1/evidence/").json()["count"] == 0


def test_anonymous_is_refused(api, photo):
    evidence, _ = photo
    assert api(None).get(f"/api/v1/evidence/{evidence.pk}/download/").status_code in (401, 403)


def test_evidence_on_the_case_is_visible_to_the_parties_of_its_refund(api, cast, refund, post_evidence):
    case = make_case(refund)
    evidence_id = post_evidence(cast.agent, pdf_bytes(), case=case.pk, kind="other").json()["id"]
    assert api(cast.buyer).get(f"/api/v1/evidence/{evidence_id}/download/").status_code == 200
    assert api(cast.seller).get(f"/api/v1/evidence/{evidence_id}/download/").status_code == 200
    assert api(cast.stranger_seller).get(f"/api/v1/evidence/{evidence_id}/download/").status_code == 404


def test_the_download_name_takes_the_extension_of_the_real_type(api, cast, refund, post_evidence):
    evidence_id = post_evidence(cast.buyer, pdf_bytes(), name="receipt.exe", refund=refund.pk).json()["id"]
    response = api(cast.buyer).get(f"/api/v1/evidence/{evidence_id}/download/")
    assert 'filename="receipt.pdf"' in response["Content-Disposition"]
    assert response["Content-Type"] == "application/pdf"


def test_an_any_accept_header_still_downloads(api, cast, photo):
    evidence, content = photo
    response = api(cast.buyer).get(f"/api/v1/evidence/{evidence.pk}/download/", HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 200
    assert _body(response) == content


def test_the_thumbnail_is_small_inline_and_stripped_of_exif_and_gps(api, cast, photo):
    evidence, content = photo
    assert Image.open(io.BytesIO(content)).getexif().get_ifd(0x8825)  # the original has GPS
    response = api(cast.seller).get(f"/api/v1/evidence/{evidence.pk}/thumbnail/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline;")
    thumb = Image.open(io.BytesIO(_body(response)))
    assert max(thumb.size) <= 320
    assert dict(thumb.getexif()) == {}
    assert "exif" not in thumb.info and "icc_profile" not in thumb.info


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_every_image_type_gets_a_thumbnail(api, cast, refund, post_evidence, fmt):
    evidence_id = post_evidence(cast.buyer, image_bytes(fmt), refund=refund.pk).json()["id"]
    response = api(cast.buyer).get(f"/api/v1/evidence/{evidence_id}/thumbnail/")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(_body(response))).format == "JPEG"


def test_a_pdf_has_no_thumbnail(api, cast, refund, post_evidence):
    evidence_id = post_evidence(cast.buyer, pdf_bytes(), refund=refund.pk).json()["id"]
    response = api(cast.buyer).get(f"/api/v1/evidence/{evidence_id}/thumbnail/")
    assert response.status_code == 404
    assert response.json()["code"] == "no_thumbnail"


def test_a_missing_stored_file_is_a_404_not_a_500(api, cast, photo, media_root):
    evidence, _ = photo
    (media_root / evidence.file.name).unlink()
    response = api(cast.buyer).get(f"/api/v1/evidence/{evidence.pk}/download/")
    assert response.status_code == 404
    assert response.json()["code"] == "file_missing"


def test_list_filters_by_dispute_with_a_fixed_query_count(
    api, cast, refund, post_evidence, django_assert_max_num_queries
):
    for _ in range(3):
        post_evidence(cast.buyer, image_bytes(), refund=refund.pk)
    client = api(cast.seller)
    with django_assert_max_num_queries(8):
        body = client.get(f"/api/v1/evidence/?refund={refund.pk}").json()
    assert body["count"] == 3
    assert {row["refund"] for row in body["results"]} == {refund.pk}
