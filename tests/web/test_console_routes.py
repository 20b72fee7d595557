"""Request routing and parameter checks of the console's JSON API."""

from __future__ import annotations

import pytest

from kafkalite.web.console.app import build_router
from kafkalite.web.console.routes import ApiError, int_param, split_target


def test_routes_by_method_and_path():
    router = build_router()
    assert router.match("GET", "/api/topics").name == "topics"
    assert router.match("POST", "/api/topics").name == "create_topic"
    m = router.match("GET", "/api/topics/orders/messages?partition=1")
    assert (m.name, dict(m.params)) == ("messages", {"topic": "orders"})
    assert router.match("HEAD", "/api/overview").name == "overview"


def test_encoded_slashes_stay_inside_one_segment():
    router = build_router()
    m = router.match("GET", "/api/groups/team%2Fbilling%20v2")
    assert (m.name, m.params["group"]) == ("group", "team/billing v2")
    m = router.match("POST", "/api/groups/a%2Freset/reset")
    assert (m.name, m.params["group"]) == ("reset_offsets", "a/reset")
    assert split_target("/api//groups/?x=1") == ["api", "groups"]


def test_unknown_path_is_404_and_wrong_method_405():
    router = build_router()
    with pytest.raises(ApiError) as e:
        router.match("GET", "/api/nope")
    assert e.value.status == 404
    with pytest.raises(ApiError) as e:
        router.match("POST", "/api/overview")
    assert e.value.status == 405 and ("Allow", "GET") in e.value.headers
    with pytest.raises(ApiError) as e:
        router.match("DELETE", "/api/topics")
    assert e.value.status == 405 and ("Allow", "GET, POST") in e.value.headers


@pytest.mark.parametrize("raw,kw,expected", [
    ("5", {}, 5), (7, {}, 7), (None, {"default": 3}, 3), ("", {"default": 3}, 3),
    ("0", {"minimum": 0}, 0)])
def test_int_param_accepts(raw, kw, expected):
    assert int_param({"n": raw}, "n", **kw) == expected


@pytest.mark.parametrize("raw,kw,needle", [
    ("abc", {}, "must be an integer"), ("1.5", {}, "must be an integer"),
    (True, {}, "must be an integer"), ([1], {}, "must be an integer"),
    ("-1", {"minimum": 0}, "at least 0"), ("600", {"maximum": 500}, "at most 500"),
    (None, {"required": True}, "is required")])
def test_int_param_refuses_with_400(raw, kw, needle):
    with pytest.raises(ApiError) as e:
        int_param({"n": raw}, "n", **kw)
    assert e.value.status == 400 and needle in e.value.message
