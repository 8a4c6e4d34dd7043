"""Idempotency-Key on creating POSTs (CONTRACT.md, issue #8): a replay within 24 h returns the first
response and creates nothing, another body with the same key is a 422, concurrent replays create one
object; every creating POST of the live schema honours the header."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.urls import resolve
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from aftersales.models import Registration
from evidence.models import Evidence
from orders.models import Shop
from tests.evidence.factories import image_bytes, upload

# Creating POSTs (201 in the schema) not yet wrapped in core.idempotency.idempotent: reported to the
# owner (disputes/views.py, lead). Remove a line once the view is decorated.
NOT_YET_IDEMPOTENT: set[str] = set()


def _is_idempotent(view_method) -> bool:
    seen = view_method
    while seen is not None:
        code = getattr(seen, "__code__", None)  # functools.wraps copies __qualname__, not the code
        if code is not None and code.co_qualname.startswith("idempotent."):
            return True
        seen = getattr(seen, "__wrapped__", None)
    return False


def test_every_creating_post_in_the_schema_takes_an_idempotency_key():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    missing = []
    for path, operations in schema["paths"].items():
        post = operations.get("post")
        if not post or "201" not in post.get("responses", {}) or path in NOT_YET_IDEMPOTENT:
            continue
        match = resolve(path.replace("{id}", "1"))
        view_class = match.func.cls
        action = match.func.actions["post"]
        if not _is_idempotent(getattr(view_class, action)):
            missing.append(f"POST {path}")
    assert not missing, "creating POSTs without Idempotency-Key: " + ", ".join(missing)


def _shop_body(cast, name="幂等小店"):
    return {"name": name, "kind": "marketplace", "owner": cast.seller.pk}


@pytest.mark.django_db
def test_a_replay_returns_the_first_response_and_creates_nothing(cast, api):
    client = api(cast.integration)
    first = client.post("/api/v1/shops/", _shop_body(cast), headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    again = client.post("/api/v1/shops/", _shop_body(cast), headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Shop.objects.filter(name="幂等小店").count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_422(cast, api):
    client = api(cast.integration)
    client.post("/api/v1/shops/", _shop_body(cast), headers={"Idempotency-Key": "k-2"})
    other = client.post("/api/v1/shops/", _shop_body(cast, "别的店"), headers={"Idempotency-Key": "k-2"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert not Shop.objects.filter(name="别的店").exists()


@pytest.mark.django_db
def test_keys_are_per_user_and_expire_after_24_hours(cast, api):
    body = _shop_body(cast, "每人一把钥匙")
    assert api(cast.integration).post("/api/v1/shops/", body, headers={"Idempotency-Key": "k-3"}).status_code == 201
    assert api(cast.agent).post("/api/v1/shops/", body, headers={"Idempotency-Key": "k-3"}).status_code == 201
    assert Shop.objects.filter(name="每人一把钥匙").count() == 2
    with time_machine.travel(timezone.now() + dt.timedelta(hours=23, minutes=59)):
        replay = api(cast.integration).post("/api/v1/shops/", body, headers={"Idempotency-Key": "k-3"})
        assert replay["Idempotent-Replayed"] == "true"
    with time_machine.travel(timezone.now() + dt.timedelta(hours=24, minutes=1)):
        fresh = api(cast.integration).post("/api/v1/shops/", body, headers={"Idempotency-Key": "k-3"})
        assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh
    assert Shop.objects.filter(name="每人一把钥匙").count() == 3


@pytest.mark.django_db
def test_a_multipart_upload_replays_too(cast, api, settings, tmp_path, world):
    settings.MEDIA_ROOT = tmp_path / "media"
    client = api(cast.buyer)
    content = image_bytes("PNG")

    def send(content):
        data = {"kind": "photo", "refund": world.refund.pk, "file": upload(content, "a.png", "image/png")}
        return client.post("/api/v1/evidence/", data, format="multipart", headers={"Idempotency-Key": "up-1"})

    first = send(content)
    assert first.status_code == 201
    assert send(content).json() == first.json()
    assert send(image_bytes("JPEG")).status_code == 422
    assert Evidence.objects.filter(refund=world.refund).count() == 2  # the world's photo and this one


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_create_one_object(cast):
    assert connection.vendor == "postgresql"
    body = {"source": "phone", "type": "inquiry", "summary": "并发登记"}
    clients, statuses, errors = 6, [], []
    barrier = threading.Barrier(clients)

    def post():
        try:
            client = APIClient()
            client.force_authenticate(cast.agent)
            barrier.wait(timeout=10)
            statuses.append(
                client.post(
                    "/api/v1/registrations/", body, format="json", headers={"Idempotency-Key": "same"}
                ).status_code
            )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Registration.objects.filter(summary="并发登记").count() == 1, statuses
    # The first creates; the others replay it (201) or are told it is still in progress (409).
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
