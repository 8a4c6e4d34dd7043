"""Sign-in, role homes, permissions (404 for another party's object), i18n and the no-outside-host rule."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from aftersales.services import logistics_claim_report, registration_create
from disputes.services import case_suspend
from tests.dashboard.conftest import refund_case
from tests.disputes.helpers import DAY, T0, file_refund, make_order

pytestmark = pytest.mark.django_db


def test_root_is_the_sign_in_form_in_chinese(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'lang="zh-hans"' in body
    assert "登录" in body and 'name="password"' in body


def test_sign_in_lands_each_role_on_its_home(cast, client):
    expected = {
        cast.agent: "/queue/",
        cast.arbitrator: "/arbitration/",
        cast.seller: "/seller/",
        cast.buyer: "/me/",
        cast.integration: "/no-role/",
    }
    for user, home in expected.items():
        client.logout()
        response = client.post("/login/", {"username": user.username, "password": "pw"})
        assert response.status_code == 302
        assert client.get("/").url == home, user.username
        assert client.get(home).status_code == 200


def test_wrong_password_says_so(cast, client):
    response = client.post("/login/", {"username": "agent", "password": "nope"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()


def test_role_pages_refuse_other_roles(cast, browser_client):
    seller = browser_client(cast.seller)
    assert seller.get("/queue/").status_code == 403
    assert seller.get("/arbitration/").status_code == 403
    assert browser_client(cast.agent).get("/seller/").status_code == 403
    assert browser_client(cast.agent).get("/arbitration/").status_code == 403
    assert browser_client(None).get("/queue/").status_code == 302


def test_another_partys_refund_is_a_404(cast, browser_client):
    order = make_order(cast, "received", complete=True)
    refund = file_refund(cast, order, at=T0 + 4 * DAY)
    assert browser_client(cast.seller).get(f"/seller/refunds/{refund.pk}/").status_code == 200
    assert browser_client(cast.stranger_seller).get(f"/seller/refunds/{refund.pk}/").status_code == 404
    response = browser_client(cast.stranger_seller).post(f"/seller/refunds/{refund.pk}/", {"action": "approve"})
    assert response.status_code == 404


def test_english_is_selectable(cast, browser_client):
    client = browser_client(cast.agent)
    response = client.post(reverse("dashboard:set_language"), {"language": "en", "next": "/queue/"})
    assert response.status_code == 302
    body = client.get("/queue/").content.decode()
    assert 'lang="en"' in body
    assert "Case queue" in body


ASSET = re.compile(r"""(?:src|href|action|data)\s*=\s*["']\s*(?:https?:)?//""", re.I)
CSS_URL = re.compile(r"url\(\s*['\"]?(?:https?:)?//", re.I)


def test_no_page_loads_anything_from_outside(cast, browser_client):
    case = refund_case(cast)
    # Rows on the after-sales pages too, and a suspended case (its R-T19 section).
    order = make_order(cast, "shipped")
    registration_create(actor=cast.agent, source="phone", type="inquiry", order=order)
    logistics_claim_report(actor=cast.agent, order=order, parcel_state="lost", item="T恤", price=Decimal("9.90"))
    case_suspend(case=case, actor=cast.arbitrator, reason="双方协商")
    pages = {
        None: ["/", "/login/"],
        cast.agent: [
            "/queue/",
            f"/cases/{case.pk}/",
            "/overview/",
            f"/shops/{cast.shop.pk}/record/",
            "/registrations/",
            "/logistics-claims/",
            "/performance/",
        ],
        cast.arbitrator: [
            "/arbitration/",
            f"/cases/{case.pk}/",
            "/replies/",
            "/registrations/",
            "/logistics-claims/",
            "/performance/",
        ],
        cast.seller: ["/seller/", f"/seller/refunds/{case.refund_id}/", "/seller/record/"],
        cast.buyer: ["/me/"],
    }
    for user, urls in pages.items():
        client = browser_client(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            body = response.content.decode()
            assert not ASSET.search(body), url
            assert not CSS_URL.search(body), url
            assert "http://" not in body and "https://" not in body, url
