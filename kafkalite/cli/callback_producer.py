"""A producer that tells the tool about each record the moment its batch is answered.

Kafka's tools hang a callback on every send: the perf test measures send-to-ack latency in
it, the verifiable producer prints ``producer_send_success`` / ``producer_send_error`` from
it, the mirror maker counts failed sends. kafkalite's :class:`Producer` resolves
:class:`DeliveryHandle`\\ s instead; waiting on each handle would take one task per record in
flight. :class:`CallbackProducer` is the producer with one addition: after a batch's handles
are resolved (acknowledged or failed for good) it calls ``on_completion(handle)`` for each, in
the batch's order, from the sender task. The callback must not block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafkalite.client.cluster import Cluster
from kafkalite.client.producer import DeliveryHandle, Producer

__all__ = ["CallbackProducer"]


class CallbackProducer(Producer):
    """:class:`Producer` plus ``on_completion(handle)`` per record once it has an outcome.

    Args:
        cluster: as for :class:`Producer`.
        on_completion: called with each resolved handle (``handle.error`` None on success).
        **kwargs: the :class:`Producer` arguments.
    """

    def __init__(self, cluster: Cluster, *, on_completion: Callable[[DeliveryHandle], Any],
                 **kwargs: Any):
        super().__init__(cluster, **kwargs)
        self._on_completion = on_completion

    def _succeed(self, batch, base_offset: int, log_append_time: int) -> None:
        super()._succeed(batch, base_offset, log_append_time)
        self._report(batch)

    def _fail(self, batch, error: BaseException) -> None:
        super()._fail(batch, error)
        self._report(batch)

    def _report(self, batch) -> None:
        for handle in batch.handles:
            self._on_completion(handle)
