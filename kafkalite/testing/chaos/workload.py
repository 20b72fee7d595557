"""The clients of a chaos run, each a thread recording everything it does to the history.

confluent-kafka (librdkafka), the client most Kafka users run:

* :class:`IdempotentProducer`: acks=all, ``enable.idempotence``; unique values ``i<k>-<n>``
  round-robin over the partitions at a steady rate.
* :class:`TransactionalProducer`: transactions of a few values ``x<k>-<n>`` over random
  partitions, some committed and some aborted on purpose.
* :class:`SubscribeConsumer`: a group member (``subscribe``) that commits after each batch;
  every assignment starts a new session.
* :class:`AssignConsumer`: ``assign`` of every partition, from the beginning, re-assigned
  now and then from an earlier offset (a new session).
* :func:`final_read`: after the faults, every partition from the log start to its last
  stable offset (session mode ``final``).

Consumers read with ``isolation.level=read_committed``, so the checker's aborted-read and
poll-skip rules apply to every session. A client that hits a fatal error is closed and
re-created under a new process name (``<name>#<instance>``), so one process is one
producer id and one send order.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping

from kafkalite.testing.chaos.history import History

__all__ = ["IdempotentProducer", "TransactionalProducer", "SubscribeConsumer",
           "AssignConsumer", "final_read", "Client"]

COMMON = {"topic.metadata.refresh.interval.ms": 1000, "reconnect.backoff.max.ms": 1000,
          "log_level": 2}   # librdkafka: only critical lines; brokers do come and go


class Client:
    """A client thread. Exceptions are kept and re-raised by :meth:`stop`."""

    def __init__(self, name: str, history: History, bootstrap: str, topic: str,
                 partitions: int, *, seed: int = 0):
        self.name = name
        self.history = history
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.random = random.Random(seed)
        self.instance = 0
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)

    @property
    def process(self) -> str:
        return f"{self.name}#{self.instance}"

    def start(self) -> Client:
        self.thread.start()
        return self

    def _main(self) -> None:
        try:
            self.run()
        except BaseException as e:  # noqa: BLE001 - re-raised in stop()
            self.error = e

    def run(self) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 120) -> None:
        self.stopping.set()
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise TimeoutError(f"{self.name} did not stop within {timeout}s")
        if self.error is not None:
            raise self.error

    def record(self, type_: str, **fields) -> None:
        self.history.record(type_, self.process, **fields)


# -- producers ----------------------------------------------------------------------------

class IdempotentProducer(Client):
    def __init__(self, *args, rate: float = 40.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.rate = rate
        self.n = 0

    def config(self) -> dict:
        return {**COMMON, "bootstrap.servers": self.bootstrap, "acks": "all",
                "enable.idempotence": True, "linger.ms": 5, "message.timeout.ms": 60000,
                "request.timeout.ms": 5000, "retry.backoff.ms": 100}

    def _delivered(self, err, msg) -> None:
        value = msg.value().decode()
        if err is None:
            self.record("ack", value=value, topic=msg.topic(), partition=msg.partition(),
                        offset=msg.offset())
        else:
            self.record("send_error", value=value, error=err.name(), fatal=err.fatal())
            if err.fatal():
                self.fatal = True

    def run(self) -> None:
        from confluent_kafka import KafkaException, Producer

        while not self.stopping.is_set():
            self.instance += 1
            self.fatal = False
            producer = Producer(self.config())
            interval = 1.0 / self.rate
            next_at = time.monotonic()
            try:
                while not self.stopping.is_set() and not self.fatal:
                    value = f"{self.name}-{self.n}"
                    partition = self.n % self.partitions
                    try:
                        producer.produce(self.topic, value.encode(), partition=partition,
                                         on_delivery=self._delivered)
                    except BufferError:
                        producer.poll(0.1)
                        continue
                    self.record("send", value=value, topic=self.topic, partition=partition)
                    self.n += 1
                    next_at += interval
                    producer.poll(max(0.0, next_at - time.monotonic()))
                    if time.monotonic() - next_at > 1.0:
                        next_at = time.monotonic()   # fell behind: no burst to catch up
            except KafkaException as e:
                # A fatal idempotence error (e.g. the broker lost sequence numbers it had
                # acknowledged): this producer id is done; a new instance takes over.
                self.record("client_error", error=str(e.args[0]), fatal=e.args[0].fatal())
            try:
                left = producer.flush(90)
            except KafkaException as e:
                left = 0
                self.record("client_error", error=f"flush: {e.args[0]}")
            if left:
                self.record("client_error", error=f"{left} messages neither acked nor failed")


class TransactionalProducer(Client):
    """Transactions of 1-8 values; ``abort_ratio`` of them aborted on purpose."""

    def __init__(self, *args, abort_ratio: float = 0.3, pause_s: float = 0.1, **kwargs):
        super().__init__(*args, **kwargs)
        self.abort_ratio = abort_ratio
        self.pause_s = pause_s
        self.n = 0
        self.txn = 0

    def config(self) -> dict:
        return {**COMMON, "bootstrap.servers": self.bootstrap, "acks": "all",
                "enable.idempotence": True, "transactional.id": f"chaos-{self.name}",
                "transaction.timeout.ms": 20000, "linger.ms": 5, "message.timeout.ms": 20000,
                "request.timeout.ms": 5000, "retry.backoff.ms": 100}

    def _delivered(self, err, msg) -> None:
        value = msg.value().decode()
        if err is None:
            self.record("ack", value=value, topic=msg.topic(), partition=msg.partition(),
                        offset=msg.offset())
        else:
            self.record("send_error", value=value, error=err.name(), fatal=err.fatal())

    def run(self) -> None:
        from confluent_kafka import KafkaException, Producer

        while not self.stopping.is_set():
            self.instance += 1
            producer = Producer(self.config())
            try:
                self._init(producer)
                while not self.stopping.is_set():
                    if not self._one_transaction(producer):
                        break   # fatal: a new instance
                    self.stopping.wait(self.pause_s)
            except KafkaException as e:
                self.record("client_error", error=str(e.args[0]))
            finally:
                try:
                    producer.flush(30)
                except KafkaException as e:   # fatal already: the next instance takes over
                    self.record("client_error", error=f"flush: {e.args[0]}")

    def _init(self, producer) -> None:
        from confluent_kafka import KafkaException

        while not self.stopping.is_set():
            try:
                producer.init_transactions(30)
                return
            except KafkaException as e:
                err = e.args[0]
                self.record("client_error", error=f"init_transactions: {err.name()}")
                if err.fatal():
                    raise
                self.stopping.wait(1)

    def _one_transaction(self, producer) -> bool:
        """One transaction; False if the producer hit a fatal error (then a new instance
        fences it). One such error is librdkafka's: abort_transaction right after a commit
        whose markers are still being written can end in a fatal INVALID_TXN_STATE, against
        Kafka too (confluentinc/librdkafka#4849)."""
        from confluent_kafka import KafkaException

        self.txn += 1
        tid = self.txn
        values = []
        abort = self.random.random() < self.abort_ratio
        outcome, error = "unknown", None
        try:
            producer.begin_transaction()
            for _ in range(self.random.randint(1, 8)):
                value = f"{self.name}-{self.n}"
                self.n += 1
                partition = self.random.randrange(self.partitions)
                producer.produce(self.topic, value.encode(), partition=partition,
                                 on_delivery=self._delivered)
                self.record("send", value=value, topic=self.topic, partition=partition,
                            txn=tid)
                values.append(value)
            producer.poll(0)
            if abort:
                producer.abort_transaction(30)
                outcome = "abort"
            else:
                outcome = self._commit(producer)
        except KafkaException as e:
            err = e.args[0]
            error = err.name()
            if err.fatal():
                self.record("txn", txn=tid, outcome="unknown", values=values, error=error)
                return False
            if err.txn_requires_abort() or abort:
                try:
                    producer.abort_transaction(30)
                except KafkaException as e2:
                    error += f"; abort: {e2.args[0].name()}"
                    self.record("txn", txn=tid, outcome="unknown", values=values, error=error)
                    return not e2.args[0].fatal()
                # Aborted for sure only if no commit was attempted.
                outcome = "abort" if abort else "unknown"
        except BufferError as e:
            error = str(e)
        self.record("txn", txn=tid, outcome=outcome, values=values, error=error)
        return True

    def _commit(self, producer) -> str:
        from confluent_kafka import KafkaException

        for _ in range(5):
            try:
                producer.commit_transaction(30)
                return "commit"
            except KafkaException as e:
                if not e.args[0].retriable():
                    raise
        raise KafkaException("commit_transaction kept failing with retriable errors")


# -- consumers ----------------------------------------------------------------------------

def _consumer_config(bootstrap: str, group: str, extra: Mapping | None = None) -> dict:
    return {**COMMON, "bootstrap.servers": bootstrap, "group.id": group,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": "read_committed", "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 1000, **(extra or {})}


class _Consumer(Client):
    mode = "assign"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = 0
        self.active = False

    def new_session(self, partitions) -> None:
        self.session += 1
        self.active = True
        self.record("session", session=self.session, mode=self.mode,
                    isolation="read_committed", partitions=sorted(partitions))

    def record_messages(self, messages) -> int:
        n = 0
        for m in messages:
            if m.error() is not None:
                self.record("client_error", error=str(m.error()))
                continue
            self.record("poll", session=self.session, topic=m.topic(),
                        partition=m.partition(), offset=m.offset(), value=m.value().decode())
            n += 1
        return n


class SubscribeConsumer(_Consumer):
    mode = "subscribe"

    def run(self) -> None:
        from confluent_kafka import Consumer, KafkaException

        while not self.stopping.is_set():
            self.instance += 1
            self.active = False
            consumer = Consumer(_consumer_config(self.bootstrap, "chaos-group"))

            def on_assign(c, partitions):
                self.new_session([p.partition for p in partitions])

            def on_revoke(c, partitions):
                self.active = False

            consumer.subscribe([self.topic], on_assign=on_assign, on_revoke=on_revoke,
                               on_lost=on_revoke)
            try:
                while not self.stopping.is_set():
                    messages = consumer.consume(500, timeout=0.5)
                    if not self.record_messages(messages) or not self.active:
                        continue
                    try:
                        offsets = consumer.commit(asynchronous=False)
                        self.record("commit", ok=True, offsets={
                            str(tp.partition): tp.offset for tp in offsets or []})
                    except KafkaException as e:
                        self.record("commit", ok=False, error=e.args[0].name())
            finally:
                _close(consumer)


class AssignConsumer(_Consumer):
    """Assigns every partition; every ``reassign_s`` seconds starts over from a random earlier
    offset of each partition."""

    def __init__(self, *args, reassign_s: float = 45.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.reassign_s = reassign_s

    def run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        self.instance += 1
        consumer = Consumer(_consumer_config(self.bootstrap, f"chaos-{self.name}"))
        next_offsets = dict.fromkeys(range(self.partitions), 0)
        try:
            start = {p: OFFSET_BEGINNING for p in range(self.partitions)}
            while not self.stopping.is_set():
                consumer.assign([TopicPartition(self.topic, p, o) for p, o in start.items()])
                self.new_session(start)
                until = time.monotonic() + self.reassign_s
                while not self.stopping.is_set() and time.monotonic() < until:
                    messages = consumer.consume(500, timeout=0.5)
                    self.record_messages(messages)
                    for m in messages:
                        if m.error() is None:
                            next_offsets[m.partition()] = m.offset() + 1
                start = {p: self.random.randint(0, o) if o else OFFSET_BEGINNING
                         for p, o in next_offsets.items()}
        finally:
            _close(consumer)


def _close(consumer) -> None:
    """Leave the group; a failure to (the coordinator is away) only ends this instance."""
    from confluent_kafka import KafkaException

    try:
        consumer.close()
    except (KafkaException, RuntimeError):
        pass


# -- the final read ------------------------------------------------------------------------

def final_read(history: History, bootstrap: str, topic: str, partitions: int, *,
               timeout: float = 180) -> dict[int, int]:
    """Read every partition from the beginning to its last stable offset, recording polls as
    the ``final`` session. Returns the end offsets it read to.

    Raises:
        TimeoutError: the read did not reach the end offsets within ``timeout``.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    process = "final#1"
    consumer = Consumer(_consumer_config(bootstrap, "chaos-final"))
    try:
        ends = {}
        deadline = time.monotonic() + timeout
        for p in range(partitions):
            while True:
                try:
                    ends[p] = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                             timeout=10)[1]
                    break
                except Exception:  # noqa: BLE001 - a leader still moving: ask again
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
        history.record("session", process, session=1, mode="final",
                       isolation="read_committed", partitions=list(range(partitions)),
                       ends={str(p): e for p, e in ends.items()})
        assigned = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)]
        consumer.assign(assigned)
        position = dict.fromkeys(range(partitions), 0)
        while any(position[p] < ends[p] for p in ends):
            if time.monotonic() > deadline:
                raise TimeoutError(f"final read stuck at {position}, end offsets {ends}")
            for m in consumer.consume(1000, timeout=0.5):
                if m.error() is not None:
                    history.record("client_error", process, error=str(m.error()))
                    continue
                history.record("poll", process, session=1, topic=m.topic(),
                               partition=m.partition(), offset=m.offset(),
                               value=m.value().decode())
                position[m.partition()] = max(position[m.partition()], m.offset() + 1)
            for tp in consumer.position(assigned):
                if tp.offset >= 0:
                    position[tp.partition] = max(position[tp.partition], tp.offset)
        return ends
    finally:
        consumer.close()
