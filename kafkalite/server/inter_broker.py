"""Connections from this broker to other brokers, for the requests it sends them.

The controller sends LeaderAndIsr, UpdateMetadata and StopReplica, and a shutting-down broker
sends ControlledShutdown, over the Kafka protocol on the inter-broker listener. Ordering and
not stalling on a frozen broker are the controller's business (its per-broker queues in
``controller/service/channel.py``); here each target broker has one connection guarded by a fair
lock, so requests to it go out one at a time in the order they were made, each within its
deadline. A broken connection is reopened and the request retried a few times (a connection
dropped between requests is normal); a broker that keeps refusing is down, and its request
fails. Requests that reach a later incarnation of the broker are fenced by the receiver
(BrokerEpoch, KIP-380).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio

from kafkalite.client.connection import BrokerConnection
from kafkalite.client.errors import ConnectionFailed

__all__ = ["InterBrokerChannels"]

log = logging.getLogger(__name__)

RETRY_BACKOFF_S = 0.2
CONNECT_ATTEMPTS = 3


class _Channel:
    def __init__(self, broker_id: int):
        self.broker_id = broker_id
        self.lock = trio.Lock()  # fair: waiters get it in the order they asked
        self.address: tuple[str, int] | None = None
        self.conn: BrokerConnection | None = None

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with trio.CancelScope(shield=True):
                await conn.aclose()


class InterBrokerChannels:
    def __init__(self, client_id: str, address_of: Callable[[int], tuple[str, int] | None], *,
                 request_timeout_s: float = 30.0, security=None):
        self.client_id = client_id
        self.address_of = address_of
        self.request_timeout_s = request_timeout_s
        self.security = security  # ClientSecurity of the inter-broker listener (None: plain)
        self._channels: dict[int, _Channel] = {}

    async def send(self, broker_id: int, request: Any, version: int, *,
                   timeout_s: float | None = None) -> Any:
        """Send and wait for the answer.

        Raises trio.TooSlowError after the deadline (waiting for earlier requests included),
        trio.BrokenResourceError when the broker's address is unknown, ConnectionFailed when
        it keeps refusing connections."""
        ch = self._channels.get(broker_id)
        if ch is None:
            ch = self._channels[broker_id] = _Channel(broker_id)
        with trio.fail_after(self.request_timeout_s if timeout_s is None else timeout_s):
            async with ch.lock:
                try:
                    return await self._send(ch, request, version)
                except BaseException:
                    # Cancelled or timed out mid-request: an answer may still come; start afresh.
                    await ch.close()
                    raise

    async def _send(self, ch: _Channel, request: Any, version: int) -> Any:
        for attempt in range(CONNECT_ATTEMPTS):
            address = self.address_of(ch.broker_id)
            if address is None:
                raise trio.BrokenResourceError(f"no address known for broker {ch.broker_id}")
            if address != ch.address or (ch.conn is not None and ch.conn.closed):
                await ch.close()
                ch.address = address
            try:
                if ch.conn is None:
                    ch.conn = await BrokerConnection.open(
                        *address, client_id=self.client_id, node_id=ch.broker_id,
                        timeout=self.request_timeout_s, security=self.security)
                return await ch.conn.request(request, version)
            except (ConnectionFailed, OSError) as e:
                log.debug("request to broker %d at %s:%d failed (%s)", ch.broker_id,
                          *address, e)
                await ch.close()
                if attempt + 1 == CONNECT_ATTEMPTS:
                    # A broker that refuses connections is down: its death is the
                    # controller's next event, and retrying would only delay its queue.
                    raise
                await trio.sleep(RETRY_BACKOFF_S)
