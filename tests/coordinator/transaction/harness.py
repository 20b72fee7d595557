"""A driver for the pure transaction coordinator: carries out its effects in memory.

Appends complete at once (``auto_append``) or wait in ``pending`` for :meth:`finish_append`;
each ``__transaction_state`` partition's log is a list of ``(offset, key, value)``. Marker
sends are collected in ``sends`` and answered by the test with :meth:`write_markers`.
"""

from __future__ import annotations

from kafkalite.coordinator.results import Append, Reply, Result
from kafkalite.coordinator.transaction.log import decode_key, decode_value
from kafkalite.coordinator.transaction.machine import TransactionCoordinator, TxnConfig
from kafkalite.coordinator.transaction.results import SendMarkers
from kafkalite.model import TopicPartition

PENDING = object()
A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


class TxnHarness:
    def __init__(self, num_partitions: int = 1, *, load: bool = True, **config):
        self.m = TransactionCoordinator(TxnConfig(num_partitions=num_partitions, **config))
        self.now = 0
        self.epochs: dict[int, int] = {}
        self.replies: dict[int, object] = {}
        self.logs: dict[int, list[tuple[int, bytes, bytes | None]]] = {}
        self.pending: list[Append] = []
        self.sends: list[SendMarkers] = []
        self.auto_append = True
        self.next_pid = 1000
        if load:
            for p in range(num_partitions):
                self.load(p)

    # -- effects -------------------------------------------------------------------------

    def apply(self, result: Result) -> Result:
        for e in result.effects:
            if isinstance(e, Reply):
                assert e.token not in self.replies, "a request answered twice"
                self.replies[e.token] = e.response
            elif isinstance(e, Append):
                if self.auto_append:
                    self.finish_append(e)
                else:
                    self.pending.append(e)
            elif isinstance(e, SendMarkers):
                self.sends.append(e)
            else:
                raise AssertionError(f"unexpected effect {e!r}")
        return result

    def finish_append(self, append: Append, error=None) -> Result:
        if append in self.pending:
            self.pending.remove(append)
        if error is None:
            log = self.logs.setdefault(append.partition, [])
            log.extend((len(log), k, v) for k, v in append.records)
        return self.apply(self.m.append_completed(append, error, now_ms=self.now))

    def answer(self, result: Result):
        """The response now, or the reply if the request was answered in this call, else
        PENDING."""
        self.apply(result)
        if result.park is None:
            return result.response
        return self.replies.get(result.park, PENDING)

    def write_markers(self, send: SendMarkers | None = None, errors=None, deleted=(),
                      only=None) -> Result:
        """Answer ``send`` (default: the oldest outstanding one): every partition (or those in
        ``only``) succeeds unless ``errors`` maps it to an error class."""
        send = send or self.sends[0]
        if send in self.sends and only is None:
            self.sends.remove(send)
        parts = send.partitions if only is None else only
        results = {tp: (errors or {}).get(tp) for tp in parts}
        return self.apply(self.m.markers_written(send, results, deleted=deleted,
                                                 now_ms=self.now))

    # -- leadership ----------------------------------------------------------------------

    def load(self, partition: int = 0) -> Result:
        epoch = self.epochs[partition] = self.epochs.get(partition, 0) + 1
        self.apply(self.m.begin_load(partition, epoch))
        self.m.load_records(partition, epoch, self.logs.get(partition, []))
        return self.apply(self.m.complete_load(partition, epoch, now_ms=self.now))

    # -- requests ------------------------------------------------------------------------

    def init(self, tid="t", timeout=60000, pid=-1, epoch=-1):
        fresh = self.next_pid
        self.next_pid += 1
        return self.answer(self.m.init_producer_id(tid, timeout, producer_id=pid,
                                                   producer_epoch=epoch,
                                                   fresh_producer_id=fresh, now_ms=self.now))

    def add(self, tid, pid, epoch, *partitions):
        return self.answer(self.m.add_partitions(tid, pid, epoch, partitions, now_ms=self.now))

    def end(self, tid, pid, epoch, commit=True):
        return self.answer(self.m.end_txn(tid, pid, epoch, commit, now_ms=self.now))

    def begin(self, tid="t", *partitions):
        """InitProducerId + AddPartitions; returns (producer id, epoch)."""
        r = self.init(tid)
        assert r.error is None, r
        assert self.add(tid, r.producer_id, r.producer_epoch, *(partitions or (A0, A1))) is None
        return r.producer_id, r.producer_epoch

    # -- inspection ----------------------------------------------------------------------

    def records(self, partition: int = 0):
        """The log as ``(transactional id, TxnLogValue | None)``."""
        return [(decode_key(k), decode_value(v)) for _, k, v in self.logs.get(partition, [])]

    def states(self, partition: int = 0) -> list[str]:
        return [v.state.kafka_name if v else None for _, v in self.records(partition)]

    def txn(self, tid="t"):
        return self.m.get(tid)
