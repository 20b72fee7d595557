"""Per-broker request queues of the controller (Kafka's ControllerChannelManager).

The controller never waits for a broker while deciding: it queues requests and goes on with
the next event. Each live broker has one FIFO queue drained by one sender task, because the
order of requests to a broker carries meaning (UpdateMetadata before the LeaderAndIsr that
relies on it, StopReplica(delete=false) before StopReplica(delete=true)). A broker that died
but whose znode has not expired yet only stalls its own queue; when the controller learns of
its death (or of a restart, by a new broker epoch) the queue is dropped with whatever it held.

Responses that the controller acts on (StopReplica with deletion) are handed to a callback,
which turns them into controller events.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kafkalite.errors import KafkaError
from kafkalite.model import BrokerInfo
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.header import RequestHeader

if TYPE_CHECKING:
    from kafkalite.server.broker import Broker

__all__ = ["ControllerChannel", "SEND_ERRORS"]

log = logging.getLogger(__name__)

# What a request to another broker may fail with: the broker is gone or unreachable, or it
# answered a request-level error. None of them is a controller bug.
SEND_ERRORS = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError,
               KafkaError)

ResponseCallback = Callable[[Any], None]

# How long a request to this broker itself waits for the requests to other brokers queued
# before it (see ControllerChannel._sender).
LOCAL_HEAD_START_S = 0.2


@attrs.define
class _Queue:
    broker_epoch: int
    send: trio.MemorySendChannel
    scope: trio.CancelScope
    queued: int = 0    # items put in the queue so far
    done: int = 0      # items the sender has finished (answered, failed or marker)
    progress: trio.Event = attrs.field(factory=trio.Event)

    def put(self, item: tuple) -> None:
        self.queued += 1
        self.send.send_nowait(item)

    def finished_one(self) -> None:
        self.done += 1
        self.progress.set()
        self.progress = trio.Event()


class ControllerChannel:
    def __init__(self, broker: "Broker", nursery: trio.Nursery):
        self._broker = broker
        self._nursery = nursery
        self._queues: dict[int, _Queue] = {}
        self._correlation = 0

    def sync(self, live: Mapping[int, BrokerInfo]) -> None:
        """One queue per live broker incarnation: drop queues of dead or restarted brokers."""
        for b in list(self._queues):
            if b not in live or live[b].broker_epoch != self._queues[b].broker_epoch:
                q = self._queues.pop(b)
                q.scope.cancel()
                q.send.close()
        for b, info in live.items():
            if b not in self._queues:
                send, recv = trio.open_memory_channel(math.inf)
                q = self._queues[b] = _Queue(info.broker_epoch, send, trio.CancelScope())
                self._nursery.start_soon(self._sender, b, recv, q.scope)

    def send(self, broker_id: int, api_key: ApiKey, version: int, request: Any,
             on_response: ResponseCallback | None = None) -> None:
        """Queue ``request`` for ``broker_id``; ``on_response`` gets the response or the
        exception (one of SEND_ERRORS), also when the broker has no queue (not live)."""
        q = self._queues.get(broker_id)
        if q is None:
            log.debug("not sending %s to broker %d: not live", api_key.name, broker_id)
            if on_response is not None:
                on_response(trio.BrokenResourceError(f"broker {broker_id} is not live"))
            return
        q.put((api_key, version, request, on_response))

    async def delivered(self, timeout: float) -> bool:
        """Wait until every request queued so far has been answered (or failed), at most
        ``timeout`` seconds; True if all were. A failing-over controller lets the brokers
        take the leaderships it decided first before it starts reading the rest of the
        cluster, which would otherwise delay those requests (a broker that died unnoticed
        can only cost the timeout)."""
        events = []
        for q in self._queues.values():
            done = trio.Event()
            q.put((None, 0, None, done))
            events.append(done)
        with trio.move_on_after(timeout):
            for done in events:
                await done.wait()
            return True
        return False

    async def _sender(self, broker_id: int, recv: trio.MemoryReceiveChannel,
                      scope: trio.CancelScope) -> None:
        with scope:
            async for api_key, version, request, on_response in recv:
                try:
                    await self._deliver(broker_id, api_key, version, request, on_response)
                finally:
                    q = self._queues.get(broker_id)
                    if q is not None and q.scope is scope:
                        q.finished_one()

    async def _head_start(self, broker_id: int) -> None:
        """A request to this broker itself is handled in this process, and a LeaderAndIsr of
        thousands of partitions keeps it busy for a while: what is queued for the other
        brokers by now goes first (for at most LOCAL_HEAD_START_S), so that a failover's
        leaderships are taken on every broker at once rather than on one after the other."""
        marks = {b: q.queued for b, q in self._queues.items()
                 if b != broker_id and q.done < q.queued}
        with trio.move_on_after(LOCAL_HEAD_START_S):
            for b, mark in marks.items():
                while (q := self._queues.get(b)) is not None and q.done < mark:
                    await q.progress.wait()

    async def _deliver(self, broker_id: int, api_key: ApiKey | None, version: int,
                       request: Any, on_response: Any) -> None:
        if api_key is None:   # a marker of delivered()
            on_response.set()
            return
        if broker_id == self._broker.broker_id:
            await self._head_start(broker_id)
        self._correlation += 1
        header = RequestHeader(int(api_key), version, self._correlation,
                               f"controller-{self._broker.broker_id}")
        try:
            response: Any = await self._broker.send_to_broker(
                broker_id, header, request, controller=True)
        except SEND_ERRORS as e:
            log.warning("%s to broker %d failed: %r", api_key.name, broker_id, e)
            response = e
        else:
            code = getattr(response, "error_code", 0)
            if code:
                log.warning("broker %d answered %s with error %d", broker_id,
                            api_key.name, code)
        if on_response is not None:
            on_response(response)
