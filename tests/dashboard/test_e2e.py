"""End to end in a real browser: Playwright for Python driving Debian's chromium (/usr/bin/chromium,
installed by scripts/browser.sh; no browser download) against pytest-django's live server.
Each flow asserts what the page shows and saves a screenshot under test-output/e2e/."""

import datetime as dt
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connections
from django.utils import timezone
from PIL import Image

from aftersales.models import Registration
from core.roles import Role
from dashboard.models import CannedReply
from disputes.models import Case, Complaint, EvidenceRequest, Refund
from evidence.models import Evidence
from tests.dashboard.conftest import refund_case
from tests.disputes.helpers import file_refund, make_order

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
OUT = Path(settings.BASE_DIR) / "test-output" / "e2e"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(autouse=True)
def _roles(transactional_db):
    """Transactional tests flush the database: make sure the role groups (a data migration) exist
    before the cast is made."""
    for role in Role.values:
        Group.objects.get_or_create(name=role)


@pytest.fixture
def page(live_server):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/browser.sh (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(
            locale="zh-CN", base_url=live_server.url, viewport={"width": 1400, "height": 1000}
        )
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()
        # Playwright's sync API gives this thread another context: the ORM calls made under it opened
        # their own connection, which nothing else closes (it kept the test database from being dropped).
        connections.close_all()


def sign_in(page, username):
    page.goto("/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("pw")
    page.get_by_role("button", name="登录").click()


def test_agent_assigns_a_case_and_requests_evidence(cast, page):
    case = refund_case(cast, when=timezone.now() - dt.timedelta(minutes=10))
    if not CannedReply.objects.exists():
        CannedReply.objects.create(situation="quality", title="质量问题 · 请提供照片", body="亲,请上传商品问题照片")
    sign_in(page, "agent")
    page.wait_for_url("**/queue/")
    row = page.locator(f"#case-row-{case.pk}")
    assert "R-T12" in row.inner_text()
    row.get_by_role("checkbox").check()
    page.get_by_label("批量分配给").select_option(label="agent")
    page.get_by_role("button", name="分配所选案件").click()
    page.get_by_text("已分配 1 个案件给 agent").wait_for()
    assert Case.objects.get(pk=case.pk).assignee == cast.agent

    page.get_by_role("link", name=f"#{case.pk}").click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    assert page.locator("#case-assignee").inner_text() == "agent"
    page.get_by_label("向谁要求举证").select_option("seller")
    page.get_by_label("举证时限(小时,R-T13)").fill("48")
    page.get_by_label("给当事方的说明").click()
    page.locator("[data-insert-reply]").first.click()  # a canned reply in one click
    assert page.get_by_label("给当事方的说明").input_value().startswith("亲")
    page.get_by_role("button", name="发送举证要求").click()
    page.get_by_text("已要求卖家在 48 小时内举证").wait_for()
    assert page.locator("#case-status").get_attribute("data-status") == "awaiting_evidence"
    assert page.locator(".deadline", has_text="R-T13").count() >= 1
    page.screenshot(path=str(OUT / "agent-request-evidence.png"), full_page=True)
    request = EvidenceRequest.objects.get(case=case)
    assert (request.party, request.hours, request.note[:1]) == ("seller", 48, "亲")


def test_seller_approves_a_refund_with_an_uploaded_photo(cast, page, tmp_path):
    now = timezone.now()
    order = make_order(cast, "received", complete=True, paid_at=now - dt.timedelta(days=4))
    refund = file_refund(cast, order, at=now - dt.timedelta(hours=1), amount="88.00")
    photo = tmp_path / "damage.png"
    Image.new("RGB", (64, 48), (30, 120, 200)).save(photo)
    sign_in(page, "seller")
    page.wait_for_url("**/seller/")
    row = page.locator(f"#refund-row-{refund.pk}")
    assert "R-T04" in row.inner_text() and "剩余" in row.inner_text()
    row.get_by_role("link").click()
    page.wait_for_url(f"**/seller/refunds/{refund.pk}/")
    page.locator("#approve-file").set_input_files(str(photo))
    page.locator("#approve-button").click()
    page.get_by_text(f"退款 {refund.pk} 已更新").wait_for()
    assert page.locator("#refund-status").get_attribute("data-status") == "refunded"
    thumbnail = page.locator(".gallery img").first
    thumbnail.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", thumbnail.element_handle())
    page.screenshot(path=str(OUT / "seller-approve-with-photo.png"), full_page=True)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.REFUNDED
    assert Evidence.objects.filter(refund=refund, submitted_by=cast.seller, kind="photo").count() == 1


def test_arbitrator_previews_and_rules(cast, page):
    case = refund_case(cast, when=timezone.now() - dt.timedelta(minutes=10), amount="120.00")
    sign_in(page, "arbitrator")
    page.wait_for_url("**/arbitration/")
    page.get_by_role("link", name=f"#{case.pk}").click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    page.get_by_label("裁决结果").select_option("partial")
    page.get_by_label("责任方").select_option("seller")
    page.get_by_label("退款金额(元,可选)").fill("50.00")
    page.get_by_label("裁决说明").fill("双方各有责任,部分退款")
    page.get_by_role("button", name="预览裁决影响").click()
    money = page.locator("#preview-money")
    money.wait_for()
    assert "店铺 退款 50.00 元给买家" in money.inner_text()
    assert Case.objects.get(pk=case.pk).status != Case.Status.RULED  # the preview wrote nothing
    page.screenshot(path=str(OUT / "arbitrator-preview.png"), full_page=True)
    page.get_by_role("button", name="确认裁决").click()
    page.get_by_text(f"案件 {case.pk} 已裁决").wait_for()
    assert page.locator("#case-status").get_attribute("data-status") == "ruled"
    page.screenshot(path=str(OUT / "arbitrator-ruled.png"), full_page=True)
    case.refresh_from_db()
    assert case.outcome == "partial" and str(case.refund_amount) == "50.00"
    assert case.ruling_note == "双方各有责任,部分退款"


def test_agent_registers_a_phone_complaint_in_one_click(cast, page):
    now = timezone.now()
    order = make_order(cast, "received", paid_at=now - dt.timedelta(days=3))
    sign_in(page, "agent")
    page.wait_for_url("**/queue/")
    page.get_by_role("link", name="售后登记").click()
    page.wait_for_url("**/registrations/")
    form = page.locator("#registration-form")
    form.get_by_label("来源").select_option("phone")
    form.get_by_label("同时为买家提交投诉").check()
    # Only the complaint's fields show once the complaint is chosen (static/dashboard/aftersales.js).
    assert form.get_by_label("投诉类型").is_visible() and not form.get_by_label("退款原因").is_visible()
    form.locator("#reg_order").fill(str(order.pk))
    form.get_by_label("买家用户名(核对来电人,可选)").fill("buyer")
    form.get_by_label("投诉类型").select_option("harassment")
    form.get_by_label("买家描述(提交给卖家与平台)").fill("卖家一天打了十次电话")
    form.get_by_label("来电 / 咨询内容").fill("买家来电投诉卖家骚扰")
    page.locator("#register-button").click()
    page.get_by_text("并为买家提交投诉").wait_for()
    complaint = Complaint.objects.get(order=order)
    registration = Registration.objects.get(complaint=complaint)
    assert (complaint.buyer, complaint.created_by) == (cast.buyer, cast.agent)
    row = page.locator(f"#registration-{registration.pk}")
    assert f"#{complaint.pk}" in row.inner_text() and "电话" in row.inner_text()
    page.screenshot(path=str(OUT / "agent-registers-phone-complaint.png"), full_page=True)

    # Resolved from the list with its result.
    row.get_by_label(f"登记 {registration.pk} 的处理结果").fill("已转投诉处理,告知买家 24 小时内回复")
    row.get_by_role("button", name="标记已解决").click()
    page.locator(f'#registration-{registration.pk}[data-status="resolved"]').wait_for()
    registration.refresh_from_db()
    assert registration.status == "resolved" and registration.result.startswith("已转投诉处理")
