"""Request dispatch: the registry of API handlers and the boundary where errors become codes.

Each module in ``server/handlers/`` registers one API with :func:`handler`, naming the version
range it serves; ApiVersions is derived from this registry, never hand-maintained (franz-go's
``regKey``). A handler receives a :class:`RequestContext` and the decoded request and returns
the response object (or None for acks=0 produce).

Handlers report per-partition and per-topic errors in their responses themselves. A
``KafkaError`` escaping a handler is a request-level failure: if the handler module provides
``error_response(request, version, error)`` we answer with it, otherwise the connection is
closed, which every client treats as a retriable network error. Anything else is a bug and
propagates (it is logged once by the connection task and fails tests).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kafkalite.errors import KafkaError, ProtocolViolation
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.codec import slot_builder
from kafkalite.protocol.framing import InboundRequest
from kafkalite.protocol.header import RequestHeader

if TYPE_CHECKING:
    from kafkalite.server.broker import Broker
    from kafkalite.server.network import ConnectionInfo

__all__ = ["RequestContext", "handler", "HANDLERS", "supported_versions", "Dispatcher",
           "DeferredResponse"]

_READY_WAIT_S = 30

log = logging.getLogger(__name__)


@attrs.frozen
class RequestContext:
    broker: "Broker"
    header: RequestHeader
    connection: "ConnectionInfo | None"
    # True for requests the controller sends to its own broker without a socket.
    local: bool = False

    @property
    def api_version(self) -> int:
        return self.header.api_version

    @property
    def listener(self) -> str | None:
        return self.connection.listener if self.connection else None

    @property
    def principal(self) -> str | None:
        """The authenticated principal (``User:alice``, ``User:ANONYMOUS``), None for a
        request this broker sends itself (its controller's, which is never authorized)."""
        return self.connection.session.principal if self.connection else None

    @property
    def client_host(self) -> str:
        return self.connection.client_host if self.connection else "127.0.0.1"


HandlerFn = Callable[[RequestContext, Any], Awaitable[Any]]
_new_context = slot_builder(RequestContext)   # one per request: see codec.slot_builder
_API_VERSIONS = int(ApiKey.API_VERSIONS)


@attrs.frozen
class DeferredResponse:
    """What a handler returns when the request is processed but its answer waits: an
    acks=all produce whose batches are appended and wait for the followers. The socket
    server may process the connection's next Produce meanwhile (appending it after this
    one, as Kafka would have) and answers in request order; ``complete()`` gives the
    response. Only Produce defers, so every other request is processed after the answers
    before it went out, exactly as on a muted Kafka channel.

    ``complete()`` may be cancelled and called again (the socket server stops waiting when
    the client sends its next request); ``ready()`` says whether it would answer at once."""

    complete: Callable[[], Awaitable[Any]]
    ready: Callable[[], bool] = lambda: False


@attrs.frozen
class HandlerSpec:
    api_key: int
    min_version: int
    max_version: int
    fn: HandlerFn
    error_response: Callable[[Any, int, KafkaError], Any] | None
    inter_broker: bool


HANDLERS: dict[int, HandlerSpec] = {}


def handler(api_key: int, *, versions: tuple[int, int], inter_broker: bool = False,
            error_response: Callable[[Any, int, KafkaError], Any] | None = None):
    """Register ``fn`` as the handler of ``api_key`` for the inclusive ``versions`` range."""

    def register(fn: HandlerFn) -> HandlerFn:
        if api_key in HANDLERS:
            raise RuntimeError(f"API key {api_key} has two handlers")
        HANDLERS[int(api_key)] = HandlerSpec(int(api_key), versions[0], versions[1], fn,
                                             error_response, inter_broker)
        return fn

    return register


def load_handlers() -> None:
    """Import every module of ``server.handlers`` so each registers itself once."""
    from kafkalite.server import handlers

    for info in pkgutil.iter_modules(handlers.__path__):
        importlib.import_module(f"{handlers.__name__}.{info.name}")


def supported_versions() -> dict[int, tuple[int, int]]:
    load_handlers()
    return {k: (s.min_version, s.max_version) for k, s in sorted(HANDLERS.items())}


class Dispatcher:
    def __init__(self, broker: "Broker"):
        load_handlers()
        self.broker = broker

    async def __call__(self, info: "ConnectionInfo", request: InboundRequest) -> Any:
        header = request.header
        spec = HANDLERS[header.api_key]
        broker = self.broker
        ctx = _new_context(broker, header, info, False)
        if not spec.inter_broker and spec.api_key != _API_VERSIONS \
                and not broker.ready.is_set():
            # Like Kafka, serve clients only once this broker knows the cluster (its first
            # UpdateMetadata): an earlier Metadata answer would list no brokers, and clients
            # that believe it can drop this broker altogether.
            with trio.move_on_after(_READY_WAIT_S):
                await self.broker.ready.wait()
        if request.unsupported_version:
            # Only ApiVersions gets here (KIP-511): its handler answers with a v0 error body.
            return await spec.fn(ctx, None)
        try:
            return await spec.fn(ctx, request.body)
        except KafkaError as e:
            if spec.error_response is None:
                raise ProtocolViolation(
                    f"{type(e).__name__} in API {spec.api_key} with no error response: {e}"
                ) from e
            log.debug("request-level error for API %d: %s", spec.api_key, e)
            return spec.error_response(request.body, request.header.api_version, e)

    async def call_local(self, header: RequestHeader, body: Any) -> Any:
        """Run a request from this broker's own controller without a socket."""
        spec = HANDLERS[header.api_key]
        response = await spec.fn(RequestContext(self.broker, header, None, local=True), body)
        if isinstance(response, DeferredResponse):
            response = await response.complete()
        return response
