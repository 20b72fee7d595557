"""A small HTTP/1.1 server on trio for the metrics endpoint and the web console.

Both serve a handful of GET (and, for the console, POST) routes to Prometheus and browsers on a
trusted or authenticated network; a framework would be a new dependency for a few hundred lines
of routing. Connections are kept alive (Prometheus and browsers reuse them); a request line or
header block over 64 KiB, a body over ``max_body`` or a malformed request gets a 400 and the
connection is closed. Handler bugs become a 500 with the traceback logged, never a dead broker.

An app that needs background work for as long as it is served (the console samples metrics and
keeps client connections) has an ``async def run(*, task_status)``; the server starts it beside
its connections, so it is cancelled (and cleans up) when the server stops.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
import trio

from kafkalite.server.network import listening_socket

__all__ = ["HttpRequest", "HttpResponse", "HttpServer"]

log = logging.getLogger(__name__)

_MAX_HEAD = 64 * 1024
_IDLE_S = 60.0
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found",
            304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            413: "Payload Too Large", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


@attrs.frozen
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    client: tuple[str, int] = ("", 0)
    # The request target as sent (still %-encoded): routes whose segments may hold "/" (a
    # consumer group id) split this instead of ``path``.
    target: str = ""


@attrs.frozen
class HttpResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, text: str, status: int = 200, **kw) -> "HttpResponse":
        return cls(status, text.encode(), **kw)


App = Callable[[HttpRequest], Awaitable[HttpResponse]]


class HttpServer:
    def __init__(self, app: App, *, name: str, max_body: int = 1 << 20):
        self.app = app
        self.name = name
        self.max_body = max_body
        self.bound: tuple[str, int] | None = None
        self._sock = None

    async def bind(self, host: str, port: int) -> None:
        sock = await listening_socket(host, port, backlog=128, what=self.name)
        self._sock = sock
        self.bound = (host, sock.getsockname()[1])

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listener = trio.SocketListener(self._sock)
        async with listener:
            async with trio.open_nursery() as nursery:
                app_run = getattr(self.app, "run", None)
                if app_run is not None:
                    await nursery.start(app_run)
                task_status.started()
                while True:
                    stream = await listener.accept()
                    nursery.start_soon(self._serve, stream)

    async def _serve(self, stream: trio.SocketStream) -> None:
        try:
            peer = stream.socket.getpeername()[:2]
        except OSError:
            peer = ("", 0)
        buf = bytearray()
        try:
            async with stream:
                while True:
                    request = await self._read_request(stream, buf, peer)
                    if request is None:
                        return
                    if isinstance(request, HttpResponse):  # malformed: answer and close
                        await self._write(stream, request, keep_alive=False)
                        return
                    try:
                        response = await self.app(request)
                    except Exception:
                        log.exception("%s: error answering %s %s", self.name, request.method,
                                      request.path)
                        response = HttpResponse.text("internal error\n", 500)
                    keep = request.headers.get("connection", "").lower() != "close"
                    await self._write(stream, response, keep_alive=keep,
                                      head_only=request.method == "HEAD")
                    if not keep:
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError,
                trio.TooSlowError):
            pass

    async def _read_request(self, stream, buf: bytearray, peer) -> HttpRequest | HttpResponse | None:
        with trio.move_on_after(_IDLE_S):
            while b"\r\n\r\n" not in buf:
                if len(buf) > _MAX_HEAD:
                    return HttpResponse.text("request head too large\n", 400)
                data = await stream.receive_some(65536)
                if not data:
                    return None
                buf += data
            end = buf.index(b"\r\n\r\n")
            head = bytes(buf[:end]).decode("latin-1")
            del buf[:end + 4]
            lines = head.split("\r\n")
            try:
                method, target, _version = lines[0].split(" ", 2)
            except ValueError:
                return HttpResponse.text("malformed request line\n", 400)
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    return HttpResponse.text("malformed header\n", 400)
                headers[name.strip().lower()] = value.strip()
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                return HttpResponse.text("bad content-length\n", 400)
            if length < 0 or length > self.max_body:
                return HttpResponse.text("body too large\n", 413)
            while len(buf) < length:
                data = await stream.receive_some(65536)
                if not data:
                    return None
                buf += data
            body = bytes(buf[:length])
            del buf[:length]
            parts = urlsplit(target)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            return HttpRequest(method.upper(), unquote(parts.path) or "/", query, headers, body,
                               peer, target)
        return None

    @staticmethod
    async def _write(stream, response: HttpResponse, *, keep_alive: bool,
                     head_only: bool = False) -> None:
        reason = _REASONS.get(response.status, "")
        head = [f"HTTP/1.1 {response.status} {reason}",
                f"Content-Type: {response.content_type}",
                f"Content-Length: {len(response.body)}",
                "Connection: keep-alive" if keep_alive else "Connection: close"]
        head += [f"{k}: {v}" for k, v in response.headers]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        await stream.send_all(data if head_only else data + response.body)
