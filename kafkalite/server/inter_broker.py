"""Requests from this broker to other brokers (Kafka's ControllerChannelManager).

The controller sends LeaderAndIsr, UpdateMetadata and StopReplica, and a shutting-down broker
sends ControlledShutdown, over the Kafka protocol on the inter-broker listener. Per target
broker one sender task takes requests from a queue and sends them one at a time, in order,
because the order carries meaning (UpdateMetadata before the LeaderAndIsr that relies on it).
The controller's event loop only queues (:meth:`InterBrokerChannels.post`): a broker that is
frozen or unreachable delays its own queue, never the controller's handling of everyone else.
A broken connection is reopened and the request retried a few times (a connection dropped
between requests is normal); a broker that keeps refusing is down, and its request fails
rather than holding up the queue. Requests that reach a later incarnation of the broker are
fenced by the receiver (BrokerEpoch, KIP-380).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs
import trio

from kafkalite.client.connection import BrokerConnection
from kafkalite.client.errors import ConnectionFailed

__all__ = ["InterBrokerChannels"]

log = logging.getLogger(__name__)

RETRY_BACKOFF_S = 0.2
CONNECT_ATTEMPTS = 3
QUEUE_SIZE = 10_000


@attrs.define(eq=False)
class _Item:
    request: Any
    version: int
    deadline: float
    done: trio.Event = attrs.field(factory=trio.Event)
    response: Any = None
    error: BaseException | None = None
    abandoned: bool = False


class _Channel:
    def __init__(self, broker_id: int, address_of: Callable[[int], tuple[str, int] | None],
                 client_id: str, connect_timeout_s: float, local_call=None):
        self.broker_id = broker_id
        self.local_call = local_call
        self.address_of = address_of
        self.client_id = client_id
        self.connect_timeout_s = connect_timeout_s
        self.send_queue, self.receive_queue = trio.open_memory_channel(QUEUE_SIZE)
        self.address: tuple[str, int] | None = None
        self.conn: BrokerConnection | None = None

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with trio.CancelScope(shield=True):
                await conn.aclose()

    async def run(self) -> None:
        try:
            async for item in self.receive_queue:
                if item.abandoned:
                    continue
                with trio.move_on_at(item.deadline) as scope:
                    try:
                        item.response = await self._send(item)
                    except BaseException as e:  # noqa: BLE001 - handed to the waiter
                        if isinstance(e, trio.Cancelled):
                            raise
                        item.error = e
                if scope.cancelled_caught:
                    await self.close()  # an answer may still come; start afresh
                    item.error = trio.TooSlowError(
                        f"no answer from broker {self.broker_id} in time")
                item.done.set()
        finally:
            await self.close()

    async def _send(self, item: _Item) -> Any:
        if self.local_call is not None:
            return await self.local_call(item.request, item.version)
        for attempt in range(CONNECT_ATTEMPTS):
            address = self.address_of(self.broker_id)
            if address is None:
                raise trio.BrokenResourceError(f"no address known for broker {self.broker_id}")
            if address != self.address or (self.conn is not None and self.conn.closed):
                await self.close()
                self.address = address
            try:
                if self.conn is None:
                    self.conn = await BrokerConnection.open(
                        *address, client_id=self.client_id, node_id=self.broker_id,
                        timeout=self.connect_timeout_s)
                return await self.conn.request(item.request, item.version)
            except (ConnectionFailed, OSError) as e:
                log.debug("request to broker %d at %s:%d failed (%s)", self.broker_id,
                          *address, e)
                await self.close()
                if attempt + 1 == CONNECT_ATTEMPTS:
                    # A broker that refuses connections is down: its death is the
                    # controller's next event, and retrying would only delay the queue.
                    raise
                await trio.sleep(RETRY_BACKOFF_S)


class InterBrokerChannels:
    def __init__(self, client_id: str, address_of: Callable[[int], tuple[str, int] | None], *,
                 request_timeout_s: float = 30.0, local_id: int = -1, local_call=None):
        """``local_call(request, version)`` serves requests to ``local_id`` (ourselves) without
        a socket, still in queue order."""
        self.client_id = client_id
        self.local_id = local_id
        self.local_call = local_call
        self.address_of = address_of
        self.request_timeout_s = request_timeout_s
        self._channels: dict[int, _Channel] = {}
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started(self)
            await trio.sleep_forever()

    def _channel(self, broker_id: int) -> _Channel:
        ch = self._channels.get(broker_id)
        if ch is None:
            ch = self._channels[broker_id] = _Channel(
                broker_id, self.address_of, self.client_id, self.request_timeout_s,
                self.local_call if broker_id == self.local_id else None)
            self._nursery.start_soon(ch.run)
        return ch

    def post(self, broker_id: int, request: Any, version: int, *,
             timeout_s: float | None = None) -> _Item:
        """Queue a request for ``broker_id``; returns at once (await ``item.done`` to wait)."""
        timeout = self.request_timeout_s if timeout_s is None else timeout_s
        item = _Item(request, version, trio.current_time() + timeout)
        self._channel(broker_id).send_queue.send_nowait(item)
        return item

    async def send(self, broker_id: int, request: Any, version: int, *,
                   timeout_s: float | None = None) -> Any:
        """Queue a request and wait for its answer.

        Raises trio.TooSlowError after the deadline, trio.BrokenResourceError when the broker's
        address is unknown."""
        item = self.post(broker_id, request, version, timeout_s=timeout_s)
        try:
            await item.done.wait()
        except BaseException:
            item.abandoned = True
            raise
        if item.error is not None:
            raise item.error
        return item.response
