"""Buttons send the user back to `next` only when it is a path of this site."""

import pytest

from tests.disputes.helpers import DAY, T0, file_refund, make_order

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/queue/?view=mine"]
)
def test_no_open_redirect_after_an_action(cast, client, target):
    from disputes.services import refund_escalate, refund_refuse
    from tests.disputes.helpers import at

    refund = file_refund(cast, make_order(cast, "received", complete=True), at=T0 + 4 * DAY, reason="damaged")
    at(T0 + 5 * DAY, refund_refuse, refund=refund, actor=cast.seller, reason="no")
    at(T0 + 6 * DAY, refund_escalate, refund=refund, actor=cast.buyer)
    client.force_login(cast.agent)
    refund.refresh_from_db()
    response = client.post("/queue/assign/", {"case": [refund.case.pk], "assignee": cast.agent.pk, "next": target})
    assert response.status_code == 302
    assert "evil" not in response["Location"] and not response["Location"].startswith("javascript")
    if target.startswith("/queue"):
        assert response["Location"] == target  # a path of this site is kept, filters and all
