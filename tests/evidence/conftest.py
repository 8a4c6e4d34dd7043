import pytest

from tests.evidence.factories import make_refund


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every evidence test stores its files in its own temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def refund(cast):
    """A quality-issue refund of cast.buyer against cast.shop (RULEBOOK §7: the buyer owes photos)."""
    return make_refund(buyer=cast.buyer, shop=cast.shop)


@pytest.fixture
def post_evidence(api):
    """`post_evidence(user, content, name=…, content_type=…, **fields)`: POST evidence/ as multipart."""

    from tests.evidence.factories import upload

    def send(user, content, *, name="file.bin", content_type="application/octet-stream", headers=None, **fields):
        data = {"kind": fields.pop("kind", "photo"), "file": upload(content, name, content_type), **fields}
        return api(user).post("/api/v1/evidence/", data, format="multipart", headers=headers or {})

    return send
