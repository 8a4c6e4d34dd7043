"""The order endpoints of CONTRACT.md: roles, scoping (404 / 403 / 409), validation, idempotency."""

import datetime as dt

import pytest
from django.utils import timezone

from orders import services
from orders.models import Order
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

ITEM = {
    "title": "加厚羽绒服",
    "sku": "DOWN-XL",
    "quantity": 1,
    "unit_price": "399.00",
    "category": "apparel",
    "discounted": False,
    "custom_made": False,
}


def _order_body(cast, **over):
    return {
        "shop": cast.shop.pk,
        "buyer": cast.buyer.pk,
        "total_amount": "399.00",
        "shipping_fee": "0.00",
        "free_shipping": True,
        "items": [ITEM],
        **over,
    }


def test_integration_pushes_an_order_and_it_walks_to_completed(cast, api):
    client = api(cast.integration)
    created = (timezone.now() - dt.timedelta(hours=2)).isoformat()
    r = client.post("/api/v1/orders/", _order_body(cast, created_at=created), format="json")
    assert r.status_code == 201, r.content
    order_id = r.json()["id"]
    assert r.json()["status"] == "awaiting_payment"

    paid = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    r = client.post(f"/api/v1/orders/{order_id}/pay/", {"paid_at": paid}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "paid"
    deadlines = r.json()["deadlines"]
    assert [d["kind"] for d in deadlines] == ["r_t01_ship"]
    assert deadlines[0]["status"] == "pending" and deadlines[0]["rule"] == "R-T01"
    assert deadlines[0]["duration"] == "72 hours" and "72小时" in deadlines[0]["rule_words"]
    assert r.json()["ship_by"] == deadlines[0]["due_at"]

    picked = (timezone.now() - dt.timedelta(minutes=5)).isoformat()
    r = api(cast.seller).post(
        f"/api/v1/orders/{order_id}/ship/",
        {"carrier": "中通快递", "tracking_number": "ZT7788", "picked_up_at": picked},
        format="json",
    )
    assert r.status_code == 200 and r.json()["status"] == "shipped"
    kinds = {d["kind"]: d["status"] for d in r.json()["deadlines"]}
    assert kinds == {"r_t01_ship": "cancelled", "r_t16_auto_confirm": "pending"}

    r = client.post(f"/api/v1/orders/{order_id}/deliver/", {"signed_at": timezone.now().isoformat()}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "delivered"
    r = api(cast.buyer).post(f"/api/v1/orders/{order_id}/confirm-receipt/")
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert r.json()["completed_at"]


def test_picked_up_at_in_the_future_is_a_400_naming_the_field(cast, api):
    order = services.order_pay(order=OrderFactory(shop=cast.shop, buyer=cast.buyer), actor=None)
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    r = api(cast.seller).post(
        f"/api/v1/orders/{order.pk}/ship/", {"carrier": "顺丰", "tracking_number": "SF1", "picked_up_at": future}
    )
    assert r.status_code == 400
    assert r.json()["code"] == "time_in_future" and "picked_up_at" in r.json()
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_invalid_input_is_a_400_with_field_errors(cast, api):
    r = api(cast.integration).post("/api/v1/orders/", _order_body(cast, total_amount="-1", items=[]), format="json")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid" and "total_amount" in body and "items" in body
    r = api(cast.integration).post("/api/v1/orders/", _order_body(cast, buyer=cast.seller.pk), format="json")
    assert r.status_code == 400 and "buyer" in r.json()


def test_wrong_transition_is_a_409_with_a_code(cast, api):
    order = OrderFactory(shop=cast.shop, buyer=cast.buyer)
    r = api(cast.buyer).post(f"/api/v1/orders/{order.pk}/confirm-receipt/")
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_transition" and "awaiting_payment" in r.json()["detail"]
    client = api(cast.integration)
    assert client.post(f"/api/v1/orders/{order.pk}/pay/").status_code == 200
    r = client.post(f"/api/v1/orders/{order.pk}/pay/")
    assert r.status_code == 409 and r.json()["status"] == "paid"


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("buyer", 200),
        ("other_buyer", 404),
        ("seller", 200),
        ("stranger_seller", 404),
        ("agent", 200),
        ("arbitrator", 200),
        ("integration", 200),
    ],
)
def test_order_visibility(cast, api, who, expected):
    order = OrderFactory(shop=cast.shop, buyer=cast.buyer)
    assert api(getattr(cast, who)).get(f"/api/v1/orders/{order.pk}/").status_code == expected


@pytest.mark.parametrize(
    ("who", "path", "expected"),
    [
        ("buyer", "ship", 403),  # visible, forbidden
        ("stranger_seller", "ship", 404),  # another party's order
        ("agent", "pay", 403),
        ("seller", "pay", 403),
        ("seller", "confirm-receipt", 403),
        ("other_buyer", "confirm-receipt", 404),
        ("integration", "confirm-receipt", 403),
    ],
)
def test_forbidden_actions(cast, api, who, path, expected):
    order = services.order_pay(order=OrderFactory(shop=cast.shop, buyer=cast.buyer), actor=None)
    body = {"carrier": "中通", "tracking_number": "1", "picked_up_at": timezone.now().isoformat()}
    r = api(getattr(cast, who)).post(f"/api/v1/orders/{order.pk}/{path}/", body, format="json")
    assert r.status_code == expected
    assert r.json()["code"] in {"permission_denied", "not_found"}


def test_anonymous_is_401(api):
    r = api().get("/api/v1/orders/")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("who", ["buyer", "seller", "agent", "arbitrator"])
def test_only_integration_creates_orders(cast, api, who):
    r = api(getattr(cast, who)).post("/api/v1/orders/", _order_body(cast), format="json")
    assert r.status_code == 403


def test_list_is_scoped_and_filtered(cast, api):
    mine = OrderFactory(shop=cast.shop, buyer=cast.buyer)
    OrderFactory(shop=cast.stranger_shop, buyer=cast.other_buyer)
    ids = [o["id"] for o in api(cast.buyer).get("/api/v1/orders/").json()["results"]]
    assert ids == [mine.pk]
    ids = [o["id"] for o in api(cast.seller).get("/api/v1/orders/").json()["results"]]
    assert ids == [mine.pk]
    assert api(cast.agent).get("/api/v1/orders/").json()["count"] == 2
    assert api(cast.agent).get(f"/api/v1/orders/?shop={cast.shop.pk}&status=awaiting_payment").json()["count"] == 1


def test_order_list_query_count_does_not_grow(cast, api, django_assert_max_num_queries):
    client = api(cast.agent)
    for _ in range(3):
        services.order_pay(order=OrderFactory(shop=cast.shop, buyer=cast.buyer), actor=None)
    with django_assert_max_num_queries(8) as few:
        assert client.get("/api/v1/orders/").status_code == 200
    for _ in range(30):
        services.order_pay(order=OrderFactory(shop=cast.shop, buyer=cast.buyer), actor=None)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/v1/orders/").json()["count"] == 33


def test_idempotency_key_replays_the_first_response_and_refuses_another_body(cast, api):
    client = api(cast.integration)
    headers = {"HTTP_IDEMPOTENCY_KEY": "push-order-42"}
    first = client.post("/api/v1/orders/", _order_body(cast), format="json", **headers)
    again = client.post("/api/v1/orders/", _order_body(cast), format="json", **headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    other = client.post("/api/v1/orders/", _order_body(cast, total_amount="1.00"), format="json", **headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_shops_are_registered_by_integration_or_agent(cast, api):
    body = {"name": "天猫旗舰店", "kind": "mall", "owner": cast.seller.pk}
    assert api(cast.integration).post("/api/v1/shops/", body, format="json").status_code == 201
    assert api(cast.agent).post("/api/v1/shops/", body, format="json").status_code == 201
    assert api(cast.seller).post("/api/v1/shops/", body, format="json").status_code == 403
    r = api(cast.agent).post("/api/v1/shops/", {**body, "kind": "bazaar"}, format="json")
    assert r.status_code == 400 and "kind" in r.json()


def test_token_auth(cast, client):
    r = client.post("/api/v1/auth/token/", {"username": "buyer", "password": "pw"})
    assert r.status_code == 200
    token = r.json()["token"]
    r = client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Token {token}")
    assert r.status_code == 200
    r = client.post("/api/v1/auth/token/", {"username": "buyer", "password": "wrong"})
    assert r.status_code == 400


def test_roles_exist_as_groups(db):
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {
        "buyer",
        "seller",
        "agent",
        "arbitrator",
        "integration",
    }


def test_schema_and_docs_are_served(client):
    r = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    assert "/api/v1/orders/{id}/ship/" in r.json()["paths"]
    r = client.get("/api/docs/")
    assert r.status_code == 200 and b"cdn" not in r.content.lower()
