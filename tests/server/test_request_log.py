"""The request log line: Kafka 2.8's ``Completed request:`` JSON at DEBUG."""

from __future__ import annotations

import json

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.header import RequestHeader
from kafkalite.server.request_log import describe_request, request_log


@attrs.define
class _Session:
    principal: str = "User:alice"


@attrs.define
class _Info:
    listener: str = "SASL_PLAINTEXT"
    client_host: str = "127.0.0.1"
    client_port: int = 54321
    session: _Session = attrs.field(factory=_Session)


def test_completed_request_json():
    text = describe_request(_Info(), RequestHeader(int(ApiKey.METADATA), 9, 7, "console"),
                            security_protocol="SASL_PLAINTEXT", arrived=10.0, started=10.0005,
                            handled=10.0025, sent=10.003)
    assert " " not in text   # Kafka's compact JSON
    d = json.loads(text)
    assert list(d) == ["isForwarded", "requestHeader", "request", "response", "connection",
                       "totalTimeMs", "requestQueueTimeMs", "localTimeMs", "remoteTimeMs",
                       "throttleTimeMs", "responseQueueTimeMs", "sendTimeMs", "securityProtocol",
                       "principal", "listener", "clientInformation"]
    assert d["requestHeader"] == {"requestApiKey": 3, "requestApiVersion": 9, "correlationId": 7,
                                  "clientId": "console", "requestApiKeyName": "METADATA"}
    assert d["connection"] == "127.0.0.1:54321"
    assert (d["totalTimeMs"], d["requestQueueTimeMs"], d["localTimeMs"], d["sendTimeMs"]) == \
        (3.0, 0.5, 2.0, 0.5)
    assert (d["securityProtocol"], d["principal"], d["listener"]) == \
        ("SASL_PLAINTEXT", "User:alice", "SASL_PLAINTEXT")


def test_the_logger_is_kafkas_and_an_unknown_api_key_is_a_number():
    assert request_log.name == "kafka.request.logger"
    d = json.loads(describe_request(_Info(), RequestHeader(9999, 0, 1, None),
                                    security_protocol="PLAINTEXT", arrived=1, started=1,
                                    handled=1, sent=1))
    assert d["requestHeader"]["requestApiKeyName"] == "9999"
    assert d["requestHeader"]["clientId"] is None
