"""The console app's answers that need no cluster: pages, refusals, bad input, sign-in checks.

The app is called directly with :class:`HttpRequest` objects under ``trio.run``; a request
that got as far as the cluster would try to connect, so every case here must be answered
before that (which is the point: refusals and bad input cost the cluster nothing).
"""

from __future__ import annotations

import base64
import json

import pytest
import trio

from kafkalite import errors
from kafkalite.client.errors import ConnectionFailed, KafkaTimeoutError
from kafkalite.model import BrokerEndpoint
from kafkalite.web.console.app import ConsoleApp, error_status
from kafkalite.web.http import HttpRequest


class _Config(dict):
    def listener_value(self, listener, key):
        return self.get(f"listener.name.{listener.lower()}.{key}", self.get(key))


class FakeBroker:
    def __init__(self, *, read_only=True, sasl=False):
        self.broker_id = 7
        self.config = _Config({"console.read.only": read_only,
                               "zookeeper.connect": "zk:2181/kafka",
                               "sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN"})
        self.endpoints = (BrokerEndpoint("PLAINTEXT", "127.0.0.1", 1, "PLAINTEXT"),)
        if sasl:
            self.endpoints += (BrokerEndpoint("SASL_PLAINTEXT", "127.0.0.1", 2,
                                              "SASL_PLAINTEXT"),)
        self.inter_broker_listener = "PLAINTEXT"
        self.inter_broker_security = None


def call(app, method, target, *, body=b"", headers=None):
    path = target.split("?")[0]
    query = dict(p.split("=", 1) for p in target.split("?", 1)[1].split("&")) \
        if "?" in target else {}
    request = HttpRequest(method, path, query, {"host": "console:9480", **(headers or {})},
                          body, ("127.0.0.1", 5), target)

    async def main():
        return await app(request)

    return trio.run(main)


def as_json(response):
    assert response.content_type.startswith("application/json")
    return json.loads(response.body)


def test_index_and_static_files():
    app = ConsoleApp(FakeBroker())
    r = call(app, "GET", "/")
    assert r.status == 200 and r.content_type.startswith("text/html")
    assert b'src="/static/console.js"' in r.body
    headers = dict(r.headers)
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    for name, kind in (("console.js", "text/javascript"), ("charts.js", "text/javascript"),
                       ("console.css", "text/css"), ("favicon.svg", "image/svg+xml")):
        r = call(app, "GET", f"/static/{name}")
        assert r.status == 200 and r.content_type.startswith(kind), name


@pytest.mark.parametrize("target", ["/static/../app.py", "/static/app.py", "/static/.hidden",
                                    "/nothing", "/static/"])
def test_no_file_outside_the_static_assets(target):
    assert call(ConsoleApp(FakeBroker()), "GET", target).status == 404


def test_read_only_refuses_every_write_before_reaching_the_cluster():
    app = ConsoleApp(FakeBroker(read_only=True))
    for target in ("/api/topics", "/api/topics/t/delete-records", "/api/groups/g/reset"):
        r = call(app, "POST", target, body=b"{}",
                 headers={"content-type": "application/json"})
        assert r.status == 403, target
        assert "read-only" in as_json(r)["error"]


def test_methods():
    app = ConsoleApp(FakeBroker())
    assert call(app, "DELETE", "/api/topics").status == 405
    assert call(app, "POST", "/api/overview").status == 405
    assert call(app, "POST", "/").status == 405
    r = call(app, "GET", "/api/unknown")
    assert r.status == 404 and as_json(r)["status"] == 404


def test_writes_need_json_from_the_same_origin():
    app = ConsoleApp(FakeBroker(read_only=False))
    r = call(app, "POST", "/api/topics", body=b"name=x",
             headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status == 400 and "application/json" in as_json(r)["error"]
    r = call(app, "POST", "/api/topics", body=b'{"name": "x"}',
             headers={"content-type": "application/json", "origin": "http://evil.example"})
    assert r.status == 403 and "another site" in as_json(r)["error"]
    r = call(app, "POST", "/api/topics", body=b"{oops",
             headers={"content-type": "application/json", "origin": "http://console:9480"})
    assert r.status == 400 and "not JSON" in as_json(r)["error"]


@pytest.mark.parametrize("body,needle", [
    ({"name": "bad name"}, "topic name"),
    ({"name": "x" * 250}, "topic name"),
    ({"name": ".."}, "topic name"),
    ({"name": "ok", "partitions": 0}, "positive"),
    ({"name": "ok", "partitions": "many"}, "must be an integer"),
    ({"name": "ok", "configs": ["retention.ms"]}, "'configs'"),
])
def test_create_topic_input_is_checked(body, needle):
    app = ConsoleApp(FakeBroker(read_only=False))
    r = call(app, "POST", "/api/topics", body=json.dumps(body).encode(),
             headers={"content-type": "application/json"})
    assert r.status == 400 and needle in as_json(r)["error"]


@pytest.mark.parametrize("target,body,needle", [
    ("/api/groups/g/reset", {"to": "yesterday"}, "'to' must be one of"),
    ("/api/groups/g/reset", {"to": "offset"}, "'value' is required"),
    ("/api/groups/g/reset", {"to": "earliest", "partition": 1}, "needs 'topic'"),
    ("/api/topics/t/delete-records", {"offset": 3}, "'partition' is required"),
    ("/api/topics/t/delete-records", {"partition": 0, "offset": -2}, "at least -1"),
])
def test_write_bodies_are_checked(target, body, needle):
    app = ConsoleApp(FakeBroker(read_only=False))
    r = call(app, "POST", target, body=json.dumps(body).encode(),
             headers={"content-type": "application/json"})
    assert r.status == 400 and needle in as_json(r)["error"]


@pytest.mark.parametrize("query,needle", [
    ("partition=x", "'partition' must be an integer"),
    ("partition=-1", "at least 0"),
    ("offset=1&timestamp=2", "not both"),
    ("limit=0", "at least 1"),
    ("limit=100000", "at most"),
    ("format=xml", "'format' must be one of"),
])
def test_message_browser_parameters_are_checked(query, needle):
    r = call(ConsoleApp(FakeBroker()), "GET", f"/api/topics/t/messages?{query}")
    assert r.status == 400 and needle in as_json(r)["error"]


def test_a_secured_cluster_asks_for_credentials_everywhere():
    app = ConsoleApp(FakeBroker(sasl=True))
    assert app.secured
    for target in ("/", "/static/console.js", "/api/overview"):
        r = call(app, "GET", target)
        assert r.status == 401, target
        assert dict(r.headers)["WWW-Authenticate"].startswith('Basic realm="kafkalite console"')
    bad = base64.b64encode(b"no-colon").decode()
    assert call(app, "GET", "/api/overview",
                headers={"authorization": f"Basic {bad}"}).status == 401
    assert call(app, "GET", "/api/overview",
                headers={"authorization": "Bearer abc"}).status == 401


def test_error_statuses():
    assert error_status(errors.TopicAuthorizationFailed("x")) == 403
    assert error_status(errors.UnknownTopicOrPartition("x")) == 404
    assert error_status(errors.TopicAlreadyExists("x")) == 409
    assert error_status(errors.InvalidReplicationFactor("x")) == 400
    assert error_status(errors.SaslAuthenticationFailed("x")) == 401
    assert error_status(errors.NotController("x")) == 502
    assert error_status(KafkaTimeoutError("x")) == 504
    assert error_status(ConnectionFailed("x")) == 503
