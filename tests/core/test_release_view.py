"""A rendered API response lets go of its view (core.middleware.ReleaseRenderedViewMiddleware, #9 bench 4).

DRF leaves a response, its renderer context and its view in reference cycles, so a queue page's rows
outlived the request until the cyclic garbage collector found them. Requests go through Django's own
handler (`ClientHandler`: the middleware chain as a server runs it, without the test client's extra
references on the response), the collector off, and whatever is left only in cycles is then looked at.
"""

from __future__ import annotations

import gc

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory, override_settings
from django.test.client import ClientHandler
from rest_framework.authtoken.models import Token

from bench import generate
from tests.factories import UserFactory

MIDDLEWARE = "core.middleware.ReleaseRenderedViewMiddleware"


def _is_case_row(obj) -> bool:
    return type(obj) is dict and "shop_name" in obj and "deadlines" in obj


PAGE_SIZE = 20
REQUESTS = 3


def _rows_left_in_cycles(token: str) -> int:
    """How many of REQUESTS pages' case rows (PAGE_SIZE each) only the cyclic collector would have freed."""
    handler = ClientHandler(enforce_csrf_checks=False)
    path = f"/api/v1/cases/?page_size={PAGE_SIZE}"
    environ = RequestFactory().get(path, HTTP_AUTHORIZATION=f"Token {token}").environ
    response = handler(dict(environ))  # warm: the agent's roles, the statement prepared
    assert response.status_code == 200 and b'"shop_name"' in response.content
    del response
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds unreachable is kept in gc.garbage
    try:
        for _ in range(REQUESTS):
            response = handler(dict(environ))
            assert response.status_code == 200
            assert response.content.count(b'"shop_name"') == PAGE_SIZE
            del response
        gc.collect()
        return sum(1 for obj in gc.garbage if _is_case_row(obj))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()


@pytest.fixture
def agent_token(db):
    generate.generate_base(scale=0.0001)  # the bench's generator: 100 cases
    return Token.objects.create(user=UserFactory(roles=["agent"])).key


def test_a_queue_page_is_freed_when_the_response_is(agent_token, settings):
    assert settings.MIDDLEWARE[-1] == MIDDLEWARE  # last: it runs first once the response is rendered
    assert _rows_left_in_cycles(agent_token) == 0


def test_without_it_the_page_waits_for_the_cyclic_collector(agent_token, settings):
    """The control: the same requests without the middleware leave every page's rows in cycles."""
    with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != MIDDLEWARE]):
        assert _rows_left_in_cycles(agent_token) == REQUESTS * PAGE_SIZE


def test_the_response_keeps_its_data_and_drops_its_view(agent_token, api):
    """Tests (and anything after the middleware) still read `response.data`; the renderer context is gone."""
    client = api(get_user_model().objects.get(auth_token__key=agent_token))
    response = client.get("/api/v1/cases/?page_size=5")
    assert response.status_code == 200
    assert len(response.data["results"]) == 5
    assert response.renderer_context is None
