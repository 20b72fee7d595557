"""Small pure parts of the console: sign-in parsing, listener choice, scraping, reset specs."""

from __future__ import annotations

import base64

import pytest

from kafkalite.model import BrokerEndpoint
from kafkalite.web.console.auth import login_mechanisms, parse_basic, pick_sasl_listener
from kafkalite.web.console.groups import ResetSpec
from kafkalite.web.console.routes import ApiError
from kafkalite.web.console.sampler import BrokerCharts, metrics_address
from kafkalite.web.console.scrape import ScrapeError, parse_response


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_basic_credentials():
    c = parse_basic(_basic("alice:s3cr:et"))
    assert (c.username, c.password) == ("alice", "s3cr:et")
    assert "s3cr" not in repr(c)
    assert c.key == parse_basic(_basic("alice:s3cr:et")).key != parse_basic(_basic("alice:x")).key
    for header in (None, "", "Basic", "Basic !!!", _basic("nocolon"), _basic(":pw"),
                   "Digest abc"):
        with pytest.raises(ApiError) as e:
            parse_basic(header)
        assert e.value.status == 401


def _ep(name, protocol):
    return BrokerEndpoint(name, "h", 1, protocol)


def test_sasl_listener_choice():
    plain = _ep("PLAINTEXT", "PLAINTEXT")
    internal = _ep("INTERNAL", "SASL_SSL")
    external = _ep("EXTERNAL", "SASL_PLAINTEXT")
    assert pick_sasl_listener([plain], "PLAINTEXT") is None
    assert pick_sasl_listener([plain, internal, external], "INTERNAL") == internal
    assert pick_sasl_listener([plain, internal, external], "PLAINTEXT") == external
    assert pick_sasl_listener([internal], "PLAINTEXT") == internal


def test_login_mechanisms_scram_first():
    assert login_mechanisms("PLAIN, scram-sha-256,GSSAPI") == ["SCRAM-SHA-256", "PLAIN"]
    assert login_mechanisms(["SCRAM-SHA-512", "SCRAM-SHA-256"]) == ["SCRAM-SHA-512",
                                                                    "SCRAM-SHA-256"]
    assert login_mechanisms("GSSAPI") == []


def test_metrics_address():
    assert metrics_address(None, "b1") is None
    assert metrics_address("", "b1") is None
    assert metrics_address("http://0.0.0.0:9404", "b1") == ("b1", 9404)
    assert metrics_address("http://:9404", "b1") == ("b1", 9404)
    assert metrics_address("http://metrics.b1:9405/", "b1") == ("metrics.b1", 9405)
    # loopback is the broker's machine: scraping this one would show another broker's numbers
    assert metrics_address("http://localhost:9405", "b1") == ("b1", 9405)
    assert metrics_address("http://127.0.0.2:9405", "b1") == ("b1", 9405)
    assert metrics_address("http://[::1]:9405", "localhost") == ("localhost", 9405)
    charts = BrokerCharts(3, host="b3", known=True)
    assert charts.to_json()["error"] == "no metrics listener"
    charts.address = ("b3", 9404)
    assert charts.to_json()["metrics_url"] == "http://b3:9404/metrics"


def test_parse_response_with_length_and_chunks():
    r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello extra")
    assert (r.status, r.body, r.headers["x"]) == (200, b"hello", "y")
    r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert r.body == b"hello world"
    r = parse_response(b"HTTP/1.0 503 Service Unavailable\r\n\r\nnot yet")
    assert (r.status, r.body) == (503, b"not yet")


@pytest.mark.parametrize("data", [
    b"", b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe"])
def test_parse_response_refuses_garbage(data):
    with pytest.raises(ScrapeError):
        parse_response(data)


def test_reset_spec():
    assert ResetSpec.from_json({"to": "latest"}) == ResetSpec(to="latest")
    assert ResetSpec.from_json({"to": "offset", "value": "5", "topic": "t", "partition": 1}) \
        == ResetSpec(to="offset", value=5, topic="t", partition=1)
    assert ResetSpec.from_json({"to": "timestamp", "value": 1_700_000_000_000}).value \
        == 1_700_000_000_000
    for body in ([], {"to": "offset", "value": -1}, {"to": "earliest", "topic": 3}):
        with pytest.raises(ApiError) as e:
            ResetSpec.from_json(body)
        assert e.value.status == 400
