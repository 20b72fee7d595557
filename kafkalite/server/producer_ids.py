"""Producer ids for idempotent producers, handed out from blocks reserved in ZooKeeper.

Every broker reserves a block of 1000 ids at a time in ``/latest_producer_id_block`` with a
compare-and-set (zookeeper-layout.md §3.15), so ids are unique across the cluster and across
restarts without a round trip per InitProducerId.
"""

from __future__ import annotations

import trio

from kafkalite.zk.kafka_zk import KafkaZk

__all__ = ["ProducerIdManager"]


class ProducerIdManager:
    def __init__(self, zk: KafkaZk, broker_id: int):
        self._zk = zk
        self._broker_id = broker_id
        self._next = 0
        self._end = -1  # inclusive
        self._lock = trio.Lock()

    async def next_producer_id(self) -> int:
        async with self._lock:
            if self._next > self._end:
                start, end = await self._zk.allocate_producer_id_block(self._broker_id)
                self._next, self._end = start, end
            pid = self._next
            self._next += 1
            return pid
