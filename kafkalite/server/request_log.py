"""Kafka's request log: one ``Completed request:{json}`` line per request on
``kafka.request.logger``, at DEBUG.

The shipped ``config/log4j.properties`` keeps that logger at WARN (``kafka-request.log`` stays
empty); setting ``log4j.logger.kafka.request.logger=DEBUG`` turns it on. The JSON has the
fields of Kafka 2.8's (KIP-673) at DEBUG, in its order: the request header, the connection,
the time spent in each stage in milliseconds, security protocol, principal, listener and the
client's software. Request and response bodies (Kafka's TRACE detail) are left empty.

The caller keeps the cost at one level check when the log is off::

    if request_log.isEnabledFor(logging.DEBUG):
        request_log.debug("Completed request:%s", describe_request(...))
"""

from __future__ import annotations

import json
import logging
from typing import Any

from kafkalite.protocol.api_keys import ApiKey

__all__ = ["request_log", "describe_request"]

request_log = logging.getLogger("kafka.request.logger")

_UNKNOWN = "unknown"   # Kafka's ClientInformation.UNKNOWN_NAME_OR_VERSION


def _ms(seconds: float) -> float:
    return round(max(seconds, 0.0) * 1000, 3)


def describe_request(info: Any, header: Any, *, security_protocol: str, arrived: float,
                     started: float, handled: float, sent: float) -> str:
    """The JSON after ``Completed request:`` for one request.

    Args:
        info: the connection (``listener``, ``client_host``, ``client_port``, and
            ``session.principal``), :class:`kafkalite.server.network.ConnectionInfo`.
        header: the request's :class:`kafkalite.protocol.header.RequestHeader`.
        security_protocol: the listener's (``PLAINTEXT``, ``SASL_SSL`` ...).
        arrived, started, handled, sent: ``time.perf_counter()`` when the request was read,
            when its handler started, when the handler returned and when the response was
            written.
    """
    try:
        name = ApiKey(header.api_key).name
    except ValueError:
        name = str(header.api_key)
    session = getattr(info, "session", None)
    return json.dumps({
        "isForwarded": False,
        "requestHeader": {"requestApiKey": header.api_key,
                          "requestApiVersion": header.api_version,
                          "correlationId": header.correlation_id,
                          "clientId": header.client_id,
                          "requestApiKeyName": name},
        "request": "",
        "response": "",
        "connection": f"{info.client_host}:{info.client_port}",
        "totalTimeMs": _ms(sent - arrived),
        "requestQueueTimeMs": _ms(started - arrived),
        "localTimeMs": _ms(handled - started),
        "remoteTimeMs": 0.0,
        "throttleTimeMs": 0,
        "responseQueueTimeMs": 0.0,
        "sendTimeMs": _ms(sent - handled),
        "securityProtocol": security_protocol,
        "principal": getattr(session, "principal", "User:ANONYMOUS"),
        "listener": info.listener,
        "clientInformation": {"softwareName": _UNKNOWN, "softwareVersion": _UNKNOWN},
    }, separators=(",", ":"))
