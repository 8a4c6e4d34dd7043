"""The URL configuration: the routes are tried in order (config/urls.py puts the busiest first), so no
route may hide another."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve


def _routes(patterns, prefix=""):
    """(the full regular expression, the route's name) of every named route, depth first."""
    for p in patterns:
        regex = prefix + p.pattern.regex.pattern.lstrip("^").rstrip("$").removesuffix(r"\Z")
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, regex)
        elif isinstance(p, URLPattern) and p.name:
            yield regex, p.name


def _sample(regex: str) -> str:
    """A path the route matches: each group's value a 7, the regular expression's escapes undone."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "7", regex)
    path = re.sub(r"\(\?:[^)]*\)\??", "", path)  # an optional format suffix: left out
    return "/" + path.replace("\\", "").replace("/?", "/")


def _checked() -> list[tuple[str, str]]:
    """The routes whose sample path is a plain path (not the admin's own, whose patterns are its business)."""
    routes = sorted(set(_routes(get_resolver().url_patterns)))
    return [(regex, name) for regex, name in routes if not regex.startswith("admin/") and _plain(_sample(regex))]


def _plain(path: str) -> bool:
    return not re.search(r"[()\[\]*+?<>^$|{}]", path)


@pytest.mark.parametrize("regex,name", _checked())
def test_every_route_is_reached_by_its_own_paths(regex, name):
    assert resolve(_sample(regex)).url_name == name, (regex, _sample(regex))


def test_the_routes_checked_are_the_api_s_with_their_detail_routes():
    names = {name for _, name in _checked()}
    assert {"case-list", "case-detail", "refund-approve", "order-list", "shop-record"} <= names
    assert len(names) >= 50


def test_the_busiest_api_routes_are_tried_first():
    routes = list(_routes(get_resolver().url_patterns))
    names = [name for _, name in routes]
    assert names.index("case-list") < names.index("refund-list") < names.index("order-list")
    first_admin = next(i for i, (regex, _) in enumerate(routes) if regex.startswith("admin/"))
    assert names.index("order-list") < first_admin
