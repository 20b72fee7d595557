"""GET another broker's ``/metrics``: a one-request HTTP/1.1 client on trio.

The console reads each broker's metrics endpoint every few seconds. An HTTP library would be a
new dependency for one GET of a small text body from a trusted host, so this sends
``Connection: close``, reads to EOF (bounded in time and size) and parses the answer with
:func:`parse_response`, which also undoes chunked transfer coding in case a proxy sits in
between.
"""

from __future__ import annotations

import trio

__all__ = ["HttpAnswer", "ScrapeError", "parse_response", "http_get"]

MAX_BYTES = 16 << 20


class ScrapeError(Exception):
    """The endpoint could not be read; the message says why, for the chart's caption."""


class HttpAnswer:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            raise ScrapeError("truncated chunked body")
        try:
            size = int(data[pos:end].split(b";")[0].strip(), 16)
        except ValueError:
            raise ScrapeError("malformed chunk size") from None
        if size == 0:
            return bytes(out)
        start = end + 2
        if start + size > len(data):
            raise ScrapeError("truncated chunked body")
        out += data[start:start + size]
        pos = start + size + 2


def parse_response(data: bytes) -> HttpAnswer:
    """A whole HTTP/1.x response read until the server closed the connection.

    Raises:
        ScrapeError: not an HTTP response, or a body shorter than announced.
    """
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ScrapeError("no complete HTTP response")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ScrapeError(f"not an HTTP response: {lines[0][:60]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise ScrapeError("bad Content-Length") from None
        if len(body) < length:
            raise ScrapeError("connection closed before the whole body arrived")
        body = body[:length]
    return HttpAnswer(int(parts[1]), headers, body)


async def http_get(host: str, port: int, path: str, *, timeout_s: float = 3.0) -> HttpAnswer:
    """One GET; raises ScrapeError (never a bare OSError) with a short reason."""
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/plain\r\n"
               "User-Agent: kafkalite-console\r\nConnection: close\r\n\r\n").encode("latin-1")
    data = bytearray()
    try:
        with trio.fail_after(timeout_s):
            stream = await trio.open_tcp_stream(host, port)
            async with stream:
                await stream.send_all(request)
                while True:
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        break
                    data += chunk
                    if len(data) > MAX_BYTES:
                        raise ScrapeError(f"answer larger than {MAX_BYTES} bytes")
    except trio.TooSlowError:
        raise ScrapeError(f"no answer from {host}:{port} within {timeout_s:g} s") from None
    except (OSError, trio.BrokenResourceError) as e:
        raise ScrapeError(f"cannot reach {host}:{port}: {e.strerror or e}"
                          if isinstance(e, OSError) else f"{host}:{port} broke the connection"
                          ) from None
    return parse_response(bytes(data))
