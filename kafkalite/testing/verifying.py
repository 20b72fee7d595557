"""Produce, consume, validate: the failover-test template of Kafka's system tests.

A :class:`VerifyingProducer` writes unique, increasing values in a background thread and keeps
every acknowledgement (partition, offset, value) and every failure (with its error code). A
:class:`VerifyingConsumer` reads the topic from the beginning in another thread and notices an
offset that it sees with two different values. After the faults, :func:`read_all` reads every
partition up to its high watermark and :func:`check_delivery` holds the three against each
other: every acknowledged message must be at its offset, and no offset may ever have shown two
values. :func:`compare_replica_logs` then compares the replicas' segment files batch by batch,
because followers append the leader's batches unchanged, so in-sync replicas hold the same bytes.

The producer is not idempotent by default, as in Kafka's produce-consume-validate tests: the
check is about replication (an acknowledged write survives a leader change), and keeping the
producer-id state out of it means a failure points at the replica fetcher, the ISR or the high
watermark rather than at sequence numbers. A retried message may then be written twice; that
is allowed and counted in the report, never called a loss.

The helpers use confluent-kafka (librdkafka), the client most users run against Kafka.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from kafkalite.records.batch import iter_batches

__all__ = ["Ack", "Failure", "VerifyingProducer", "VerifyingConsumer", "DeliveryReport",
           "read_all", "high_watermarks", "check_delivery", "replica_log", "replica_log_ends",
           "compare_replica_logs"]

Offset = tuple[int, int]  # (partition, offset)


@attrs.frozen
class Ack:
    partition: int
    offset: int
    value: bytes


@attrs.frozen
class Failure:
    value: bytes
    code: int
    name: str


def _consumer(bootstrap: str, extra: Mapping[str, object] | None = None):
    from confluent_kafka import Consumer

    # librdkafka insists on a group.id even for assign(); nothing is committed with it.
    config = {"bootstrap.servers": bootstrap, "group.id": "kafkalite-verifier",
              "enable.auto.commit": False, "auto.offset.reset": "earliest",
              "check.crcs": True, "topic.metadata.refresh.interval.ms": 1000}
    config.update(extra or {})
    return Consumer(config)


class _Worker:
    """A thread whose exception is re-raised by :meth:`stop` instead of escaping to pytest."""

    def __init__(self, name: str):
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def _main(self) -> None:
        try:
            self._run()
        except BaseException as e:  # noqa: BLE001 - handed to the test thread in stop()
            self._error = e

    def _run(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the thread and wait for it; its exception, if any, is raised here."""
        self._stopping.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self._thread.name} did not stop within {timeout}s")
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        if self._thread.is_alive() or self._error is not None:
            self.stop()


class VerifyingProducer(_Worker):
    """Produce ``prefix + b"%09d" % n`` for n = 0, 1, 2, ... with acks=all until stopped.

    ``max_rate`` messages per second keeps the load steady and small (failover tests are about
    correctness, and the machine is shared). ``config`` overrides librdkafka settings; the
    defaults retry until ``message.timeout.ms``, so a message fails only if no leader took it
    in time. ``partition`` pins every message to one partition; by default librdkafka spreads
    them.
    """

    def __init__(self, bootstrap: str, topic: str, *, max_rate: float = 200.0,
                 idempotent: bool = False, partition: int | None = None, prefix: bytes = b"",
                 config: Mapping[str, object] | None = None):
        super().__init__(f"verifying-producer-{topic}")
        self.topic = topic
        self.partition = partition
        self.prefix = prefix
        self.max_rate = max_rate
        self.config = {"bootstrap.servers": bootstrap, "acks": "all",
                       "enable.idempotence": idempotent, "linger.ms": 5,
                       "message.timeout.ms": 30000, "request.timeout.ms": 5000,
                       "retry.backoff.ms": 100, "reconnect.backoff.max.ms": 500,
                       "topic.metadata.refresh.interval.ms": 1000}
        self.config.update(config or {})
        self.sent = 0
        self._acked: list[Ack] = []
        self._failures: list[Failure] = []

    @property
    def acked(self) -> list[Ack]:
        with self._lock:
            return list(self._acked)

    @property
    def failures(self) -> list[Failure]:
        with self._lock:
            return list(self._failures)

    @property
    def acked_count(self) -> int:
        with self._lock:
            return len(self._acked)

    def _delivered(self, err, msg) -> None:
        with self._lock:
            if err is None:
                self._acked.append(Ack(msg.partition(), msg.offset(), msg.value()))
            else:
                self._failures.append(Failure(msg.value(), err.code(), err.name()))

    def _run(self) -> None:
        from confluent_kafka import Producer

        producer = Producer(self.config)
        extra = {} if self.partition is None else {"partition": self.partition}
        interval = 1.0 / self.max_rate
        next_at = time.monotonic()
        n = 0
        while not self._stopping.is_set():
            value = self.prefix + b"%09d" % n
            try:
                producer.produce(self.topic, value, on_delivery=self._delivered, **extra)
            except BufferError:
                producer.poll(0.1)
                continue
            n += 1
            self.sent = n
            next_at += interval
            producer.poll(max(0.0, next_at - time.monotonic()))
            if time.monotonic() - next_at > 1.0:
                next_at = time.monotonic()  # fell behind (a stall): no burst to catch up
        remaining = producer.flush(float(self.config["message.timeout.ms"]) / 1000 + 10)
        if remaining:
            raise RuntimeError(f"{remaining} messages neither acknowledged nor failed")


class VerifyingConsumer(_Worker):
    """Read ``partitions`` of ``topic`` from the beginning until stopped.

    Keeps (partition, offset) -> value; an offset delivered again with another value goes to
    :attr:`conflicts` (an acknowledged write was replaced: data loss even if no gap shows).
    Reading the same value again (librdkafka refetching after a leader change) is harmless and
    only counted in :attr:`rereads`.
    """

    def __init__(self, bootstrap: str, topic: str, partitions: Iterable[int], *,
                 config: Mapping[str, object] | None = None):
        super().__init__(f"verifying-consumer-{topic}")
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = sorted(partitions)
        self.config = dict(config or {})
        self._records: dict[Offset, bytes] = {}
        self.conflicts: list[tuple[int, int, bytes, bytes]] = []
        self.errors: list[str] = []
        self.rereads = 0

    @property
    def records(self) -> dict[Offset, bytes]:
        with self._lock:
            return dict(self._records)

    def next_offsets(self) -> dict[int, int]:
        """Per partition, one past the highest offset read so far."""
        out = dict.fromkeys(self.partitions, 0)
        with self._lock:
            for p, o in self._records:
                out[p] = max(out[p], o + 1)
        return out

    def caught_up(self, targets: Mapping[int, int]) -> bool:
        nxt = self.next_offsets()
        return all(nxt.get(p, 0) >= end for p, end in targets.items())

    def _run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        consumer = _consumer(self.bootstrap, self.config)
        try:
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING)
                             for p in self.partitions])
            while not self._stopping.is_set():
                for m in consumer.consume(1000, timeout=0.2):
                    if m.error() is not None:
                        with self._lock:
                            self.errors.append(str(m.error()))
                        continue
                    key = (m.partition(), m.offset())
                    with self._lock:
                        seen = self._records.get(key)
                        if seen is None:
                            self._records[key] = m.value()
                        elif seen == m.value():
                            self.rereads += 1
                        else:
                            self.conflicts.append((*key, seen, m.value()))
        finally:
            consumer.close()


def high_watermarks(bootstrap: str, topic: str, partitions: Iterable[int],
                    timeout: float = 10, isolation_level: str = "read_uncommitted"
                    ) -> dict[int, int]:
    """The end offsets a consumer may read to: high watermarks, or the last stable offsets
    under ``read_committed``."""
    from confluent_kafka import TopicPartition

    c = _consumer(bootstrap, {"isolation.level": isolation_level})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
                for p in partitions}
    finally:
        c.close()


def read_all(bootstrap: str, topic: str, partitions: Iterable[int],
             timeout: float = 60, isolation_level: str = "read_uncommitted"
             ) -> dict[Offset, bytes]:
    """Every record of ``partitions`` from the log start up to the high watermark as of now
    (under ``read_committed``: up to the last stable offset, without aborted records).

    Progress is the consumer's position, which also moves past transaction markers.

    Raises:
        AssertionError: an offset came back twice with different values, the read did not
            reach the end offsets within ``timeout``, or the consumer reported an error.
    """
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    partitions = sorted(partitions)
    targets = high_watermarks(bootstrap, topic, partitions, isolation_level=isolation_level)
    got: dict[Offset, bytes] = {}
    nxt = dict.fromkeys(partitions, 0)
    c = _consumer(bootstrap, {"isolation.level": isolation_level})
    try:
        assigned = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions
                    if targets[p] > 0]
        c.assign(assigned)
        deadline = time.monotonic() + timeout
        while any(nxt[p] < targets[p] for p in partitions):
            assert time.monotonic() < deadline, (
                f"read_all: stuck at {nxt}, end offsets {targets}")
            for m in c.consume(5000, timeout=0.5):
                assert m.error() is None, m.error()
                key = (m.partition(), m.offset())
                assert got.setdefault(key, m.value()) == m.value(), (
                    f"offset {key} read with two values")
                nxt[m.partition()] = max(nxt[m.partition()], m.offset() + 1)
            if assigned:
                for tp in c.position(assigned):
                    nxt[tp.partition] = max(nxt[tp.partition], tp.offset)
    finally:
        c.close()
    return got


@attrs.frozen
class DeliveryReport:
    acked: int
    lost: list[Ack]  # acknowledged, but another value (or nothing) is at that offset
    conflicts: list[str]  # an offset that has held two values, however it was noticed
    gaps: list[Offset]  # offsets missing inside the final read (a log must be contiguous)
    duplicates: int  # values written at more than one offset (retries; allowed)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.conflicts or self.gaps)

    def __str__(self) -> str:
        return (f"{self.acked} acked, {len(self.lost)} lost {self.lost[:5]}, "
                f"{len(self.conflicts)} offsets with two values {self.conflicts[:5]}, "
                f"{len(self.gaps)} gaps {self.gaps[:5]}, {self.duplicates} duplicated values")


def check_delivery(acked: Iterable[Ack], final: Mapping[Offset, bytes],
                   consumed: Mapping[Offset, bytes] | None = None,
                   consumer_conflicts: Iterable[tuple[int, int, bytes, bytes]] = ()
                   ) -> DeliveryReport:
    """Hold the acknowledgements and what was consumed against a final full read."""
    acked = list(acked)
    lost = [a for a in acked if final.get((a.partition, a.offset)) != a.value]
    conflicts = [f"{p}/{o}: consumer read {a!r} then {b!r}" for p, o, a, b in consumer_conflicts]
    by_offset: dict[Offset, set[bytes]] = {}
    for a in acked:
        by_offset.setdefault((a.partition, a.offset), set()).add(a.value)
    conflicts += [f"{p}/{o}: acknowledged for {sorted(vs)}" for (p, o), vs in by_offset.items()
                  if len(vs) > 1]
    for key, value in (consumed or {}).items():
        if key in final and final[key] != value:
            conflicts.append(f"{key[0]}/{key[1]}: consumer read {value!r}, "
                             f"final read {final[key]!r}")
    gaps = []
    for p in sorted({p for p, _ in final}):
        offsets = sorted(o for q, o in final if q == p)
        have = set(offsets)
        gaps += [(p, o) for o in range(offsets[0], offsets[-1] + 1) if o not in have]
    counts: dict[bytes, int] = {}
    for v in final.values():
        counts[v] = counts.get(v, 0) + 1
    return DeliveryReport(acked=len(acked), lost=lost, conflicts=conflicts, gaps=gaps,
                          duplicates=sum(1 for n in counts.values() if n > 1))


# -- replica logs on disk ----------------------------------------------------------------------

def replica_log(log_dir: Path, topic: str, partition: int) -> list[tuple[int, int, bytes]]:
    """(base offset, last offset, batch bytes) of every complete batch of a replica, in order.

    Segments are read in base-offset order; a batch being written right now (incomplete) ends
    the walk, so this can run against a live broker.
    """
    pdir = Path(log_dir) / f"{topic}-{partition}"
    out = []
    for segment in sorted(pdir.glob("*.log")):
        data = memoryview(segment.read_bytes())
        for _, batch in iter_batches(data):
            out.append((batch.base_offset, batch.last_offset, bytes(batch.buffer)))
    return out


def replica_log_ends(log_dirs: Mapping[int, Path], topic: str,
                     partition: int) -> dict[int, int]:
    """Per broker, the next offset after the last complete batch of its replica on disk."""
    return {b: (batches[-1][1] + 1 if (batches := replica_log(d, topic, partition)) else 0)
            for b, d in log_dirs.items()}


def compare_replica_logs(log_dirs: Mapping[int, Path], topic: str,
                         partitions: Iterable[int]) -> list[str]:
    """Problems found comparing each partition's replicas batch by batch; [] = identical.

    ``log_dirs`` maps broker id -> its log directory. Replicas must have the same batches (same
    offsets, same bytes: the leader epoch and CRC included) and end at the same offset; segment
    boundaries may differ, since each broker rolls its own segments.
    """
    problems = []
    for p in partitions:
        logs = {b: replica_log(d, topic, p) for b, d in sorted(log_dirs.items())}
        ends = {b: (batches[-1][1] + 1 if batches else 0) for b, batches in logs.items()}
        if len(set(ends.values())) > 1:
            problems.append(f"{topic}-{p}: replicas end at different offsets {ends}")
        (ref_id, ref), *others = logs.items()
        for b, batches in others:
            common = min(len(ref), len(batches))
            for i in range(common):
                if ref[i] != batches[i]:
                    problems.append(
                        f"{topic}-{p}: broker {b} differs from broker {ref_id} at batch {i}: "
                        f"offsets {batches[i][:2]} vs {ref[i][:2]}"
                        + (", same offsets but different bytes" if batches[i][:2] == ref[i][:2]
                           else ""))
                    break
    return problems
