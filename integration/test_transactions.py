"""Exactly-once on one broker, with real transactional clients (KIP-98).

confluent-kafka (librdkafka) and kafka-python producers run commit and abort rounds over two
topics of three partitions; read_committed consumers must see exactly the committed records in
order, read_uncommitted ones everything. Then the coordinator's rules: a transaction timeout
above ``transaction.max.timeout.ms`` is refused at init, a transaction left open past its
timeout is aborted by the coordinator, a second producer with the same transactional id fences
the first, and the consumer lag a client reports while a transaction is open is measured from
the last stable offset.
"""

from __future__ import annotations

import json
import time

import pytest

from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import wait_for

PROPS = {
    "transaction.state.log.replication.factor": 1,
    "transaction.state.log.min.isr": 1,
    "transaction.state.log.num.partitions": 3,
    "offsets.topic.num.partitions": 3,
    "transaction.max.timeout.ms": 60000,
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": 500,
}
TOPICS = ("txn-a", "txn-b")
PARTITIONS = range(3)


@pytest.fixture
def txn_broker(broker_factory):
    b = broker_factory(0, props=PROPS)
    for topic in TOPICS:
        create_topic(b.bootstrap, topic, partitions=3)
    return b


def confluent_producer(bootstrap: str, transactional_id: str, **extra):
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id,
                     "linger.ms": 5, **extra})


def read_partitions(bootstrap: str, isolation: str, *, expect: int, topics=TOPICS,
                    timeout: float = 30) -> dict[tuple[str, int], list[bytes]]:
    """Every record of ``topics`` from offset 0 with ``isolation``, per partition in order;
    waits until ``expect`` records arrived, then a little longer to catch extra ones."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{isolation}",
                  "isolation.level": isolation, "enable.auto.commit": False,
                  "enable.partition.eof": False})
    c.assign([TopicPartition(t, p, 0) for t in topics for p in PARTITIONS])
    out: dict[tuple[str, int], list[bytes]] = {}
    count, deadline, settle = 0, time.monotonic() + timeout, None
    try:
        while time.monotonic() < (settle or deadline):
            msg = c.poll(0.2)
            if msg is None:
                if count >= expect and settle is None:
                    settle = time.monotonic() + 1.0
                continue
            assert msg.error() is None, msg.error()
            out.setdefault((msg.topic(), msg.partition()), []).append(msg.value())
            count += 1
    finally:
        c.close()
    return out


def by_partition(values: list[tuple[str, int, bytes]]) -> dict[tuple[str, int], list[bytes]]:
    out: dict[tuple[str, int], list[bytes]] = {}
    for topic, partition, value in values:
        out.setdefault((topic, partition), []).append(value)
    return out


def rounds(n: int = 6, per_round: int = 30):
    """(commit?, [(topic, partition, value)]) for n rounds spread over 2 topics x 3 partitions."""
    for r in range(n):
        yield r % 2 == 0, [(TOPICS[i % 2], (i // 2) % 3, b"r%d-%03d" % (r, i))
                           for i in range(per_round)]


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_commit_and_abort_rounds_across_two_topics(txn_broker, client):
    bootstrap = txn_broker.bootstrap
    committed, everything = [], []
    if client == "confluent-kafka":
        p = confluent_producer(bootstrap, "rounds-ck")
        p.init_transactions(30)
        for commit, records in rounds():
            p.begin_transaction()
            for topic, partition, value in records:
                p.produce(topic, value, partition=partition)
            assert p.flush(30) == 0  # sent, so an abort leaves records in the log
            p.commit_transaction(30) if commit else p.abort_transaction(30)
            everything += records
            committed += records if commit else []
    else:
        from kafka import KafkaProducer

        p = KafkaProducer(bootstrap_servers=bootstrap, transactional_id="rounds-kp")
        p.init_transactions()
        for commit, records in rounds():
            p.begin_transaction()
            for topic, partition, value in records:
                p.send(topic, value, partition=partition)
            p.flush()
            p.commit_transaction() if commit else p.abort_transaction()
            everything += records
            committed += records if commit else []
        p.close()

    assert read_partitions(bootstrap, "read_committed", expect=len(committed)) == \
        by_partition(committed)
    assert read_partitions(bootstrap, "read_uncommitted", expect=len(everything)) == \
        by_partition(everything)


def test_consumer_lag_is_measured_from_the_last_stable_offset(txn_broker):
    """librdkafka reports ``consumer_lag`` = LSO - committed position under read_committed:
    with a transaction open the LSO stays at its first offset while the high watermark moves
    on."""
    from confluent_kafka import Consumer, TopicPartition

    bootstrap = txn_broker.bootstrap
    topic = TOPICS[0]
    p = confluent_producer(bootstrap, "lag")
    p.init_transactions(30)
    p.begin_transaction()
    for i in range(10):
        p.produce(topic, b"c%d" % i, partition=0)
    p.commit_transaction(30)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, b"open%d" % i, partition=0)
    assert p.flush(30) == 0  # records 0-9, COMMIT marker 10, open transaction 11-15

    stats: list[dict] = []
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lag",
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "statistics.interval.ms": 200,
                  "stats_cb": lambda s: stats.append(json.loads(s))})
    c.assign([TopicPartition(topic, 0, 4)])
    got = []
    try:
        while len(got) < 3:
            msg = c.poll(1.0)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
        assert got == [b"c4", b"c5", b"c6"]  # position 7
        c.pause([TopicPartition(topic, 0)])
        c.commit(offsets=[TopicPartition(topic, 0, 7)], asynchronous=False)

        def partition_stats():
            msg = c.poll(0.1)  # statistics are delivered by poll(); paused: no records
            assert msg is None or msg.error() is not None, msg.value()
            for s in reversed(stats):
                ps = s.get("topics", {}).get(topic, {}).get("partitions", {}).get("0")
                if ps and ps.get("app_offset") == 7 and ps.get("committed_offset") == 7:
                    return ps
            return None
        ps = wait_for(partition_stats, 20, "statistics after three records")
        assert (ps["ls_offset"], ps["hi_offset"]) == (11, 16)
        assert ps["consumer_lag"] == 11 - 7  # LSO - position, not HW - position
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
        assert hi == 11

        p.commit_transaction(30)  # the marker at 16 makes the LSO jump to 17
        wait_for(lambda: c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10,
                                                 cached=False)[1] == 17, 20,
                 "the LSO past the commit marker")
    finally:
        c.close()


def test_timeout_above_the_maximum_is_refused_at_init(txn_broker):
    from confluent_kafka import KafkaError, KafkaException

    p = confluent_producer(txn_broker.bootstrap, "too-long",
                           **{"transaction.timeout.ms": 120000})
    with pytest.raises(KafkaException) as info:
        p.init_transactions(30)
    assert info.value.args[0].code() == KafkaError.INVALID_TRANSACTION_TIMEOUT


def test_transaction_open_past_its_timeout_is_aborted(txn_broker):
    from confluent_kafka import KafkaException

    bootstrap = txn_broker.bootstrap
    topic = TOPICS[1]
    p = confluent_producer(bootstrap, "forgotten", **{"transaction.timeout.ms": 2000,
                                                      "message.timeout.ms": 1500})
    p.init_transactions(30)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, b"late%d" % i, partition=1)
    assert p.flush(30) == 0
    # The coordinator aborts it (epoch bumped, ABORT marker at offset 5), so the LSO moves on.
    lso = latest_offsets(bootstrap, topic, "read_committed")
    wait_for(lambda: latest_offsets(bootstrap, topic, "read_committed")[1] == 6, 20,
             f"the coordinator to abort the transaction (LSO {lso})")
    with pytest.raises(KafkaException):
        p.commit_transaction(10)
    assert read_partitions(bootstrap, "read_committed", expect=0, topics=[topic]) == {}
    assert read_partitions(bootstrap, "read_uncommitted", expect=5, topics=[topic]) == \
        {(topic, 1): [b"late%d" % i for i in range(5)]}


def test_second_producer_with_the_same_id_fences_the_first(txn_broker):
    from confluent_kafka import KafkaError, KafkaException

    bootstrap = txn_broker.bootstrap
    topic = TOPICS[0]
    first = confluent_producer(bootstrap, "shared")
    first.init_transactions(30)
    first.begin_transaction()
    first.produce(topic, b"zombie", partition=2)
    assert first.flush(30) == 0
    second = confluent_producer(bootstrap, "shared")
    second.init_transactions(30)  # aborts the first one's transaction and bumps the epoch
    second.begin_transaction()
    second.produce(topic, b"survivor", partition=2)
    second.commit_transaction(30)
    with pytest.raises(KafkaException) as info:
        first.commit_transaction(10)
    error = info.value.args[0]
    assert error.fatal() and error.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                              KafkaError.INVALID_PRODUCER_EPOCH), error
    assert read_partitions(bootstrap, "read_committed", expect=1, topics=[topic]) == \
        {(topic, 2): [b"survivor"]}


def latest_offsets(bootstrap: str, topic: str, isolation: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "offsets",
                  "isolation.level": isolation})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10,
                                           cached=False)[1] for p in PARTITIONS}
    finally:
        c.close()


@pytest.mark.parametrize("stop", ["kill", "terminate"])
def test_transactions_survive_a_broker_restart(broker_factory, tmp_path, stop):
    """The producer state (open transactions, from ``.snapshot`` files after a clean stop, from
    the log after SIGKILL), the ``.txnindex`` and the coordinator's ``__transaction_state``
    come back: read_committed still hides the aborted round, the open transaction still holds
    the LSO back, and its producer can commit it after the restart."""
    workdir = tmp_path / "restarted"
    b = broker_factory(0, props=PROPS, workdir=workdir)
    for topic in TOPICS:
        create_topic(b.bootstrap, topic, partitions=3)
    p = confluent_producer(b.bootstrap, f"restart-{stop}")
    p.init_transactions(30)
    committed, everything = [], []
    for commit, records in rounds(n=2, per_round=12):
        p.begin_transaction()
        for topic, partition, value in records:
            p.produce(topic, value, partition=partition)
        assert p.flush(30) == 0
        p.commit_transaction(30) if commit else p.abort_transaction(30)
        everything += records
        committed += records if commit else []
    p.begin_transaction()
    pending = [(TOPICS[0], 0, b"pending-%d" % i) for i in range(4)]
    for topic, partition, value in pending:
        p.produce(topic, value, partition=partition)
    assert p.flush(30) == 0
    before = latest_offsets(b.bootstrap, TOPICS[0], "read_committed")

    b.kill() if stop == "kill" else b.stop()
    b.start()
    snapshots = sorted(p.name for p in (b.log_dir / f"{TOPICS[0]}-0").glob("*.snapshot"))
    if stop == "terminate":
        assert snapshots, "a clean stop writes a producer snapshot"
    def offsets_once_served():
        try:
            return latest_offsets(b.bootstrap, TOPICS[0], "read_committed")
        except Exception:  # noqa: BLE001 - the partitions are not led again yet
            return None
    assert wait_for(offsets_once_served, 30, "the restarted broker to lead again") == before
    assert read_partitions(b.bootstrap, "read_committed", expect=len(committed)) == \
        by_partition(committed)
    p.commit_transaction(60)
    assert read_partitions(b.bootstrap, "read_committed", expect=len(committed) + 4) == \
        by_partition(committed + pending)
    assert read_partitions(b.bootstrap, "read_uncommitted", expect=len(everything) + 4) == \
        by_partition(everything + pending)


def test_console_consumer_reads_committed_only(txn_broker):
    from kafkalite.testing.processes import run_script

    bootstrap = txn_broker.bootstrap
    p = confluent_producer(bootstrap, "console")
    p.init_transactions(30)
    for commit, word in ((True, b"kept"), (False, b"dropped"), (True, b"also-kept")):
        p.begin_transaction()
        for i in range(3):
            p.produce(TOPICS[0], b"%s-%d" % (word, i), partition=0)
        assert p.flush(30) == 0
        p.commit_transaction(30) if commit else p.abort_transaction(30)
    base = ["--bootstrap-server", bootstrap, "--topic", TOPICS[0], "--partition", "0",
            "--offset", "earliest", "--timeout-ms", "5000"]
    rc, out, err = run_script("kafka-console-consumer.sh", *base, "--isolation-level",
                              "read_committed")
    assert rc == 0, err
    assert out.split() == ["kept-0", "kept-1", "kept-2", "also-kept-0", "also-kept-1",
                           "also-kept-2"]
    rc, out, err = run_script("kafka-console-consumer.sh", *base)
    assert rc == 0, err
    assert [v for v in out.split() if v.startswith("dropped")] == \
        ["dropped-0", "dropped-1", "dropped-2"]


KAFKAJS_TXN = r"""
const { Kafka, logLevel } = require('kafkajs');
(async () => {
  const kafka = new Kafka({ brokers: [process.argv[2]], logLevel: logLevel.NOTHING });
  const p = kafka.producer({ transactionalId: 'kafkajs-txn', idempotent: true,
                             maxInFlightRequests: 1 });
  await p.connect();
  for (const [commit, word] of [[true, 'js-kept'], [false, 'js-dropped']]) {
    const t = await p.transaction();
    await t.send({ topic: process.argv[3],
                   messages: [0, 1, 2].map(i => ({ value: `${word}-${i}`, partition: 0 })) });
    if (commit) await t.commit(); else await t.abort();
  }
  await p.disconnect();
})().catch(e => { console.error(e); process.exit(1); });
"""


def test_aiokafka_and_kafkajs_transactions(txn_broker, kafkajs_dir):
    """The older API versions these clients use (InitProducerId/AddPartitionsToTxn/EndTxn
    v0-1): their committed records are read, their aborted ones are not."""
    import asyncio
    import shutil
    import subprocess

    from aiokafka import AIOKafkaProducer

    bootstrap, topic = txn_broker.bootstrap, TOPICS[1]

    async def aiokafka_rounds():
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id="aiokafka-txn",
                             enable_idempotence=True)
        await p.start()
        try:
            for commit, word in ((True, b"aio-kept"), (False, b"aio-dropped")):
                await p.begin_transaction()
                for i in range(3):
                    await p.send_and_wait(topic, b"%s-%d" % (word, i), partition=0)
                await (p.commit_transaction() if commit else p.abort_transaction())
        finally:
            await p.stop()

    asyncio.run(aiokafka_rounds())
    script = kafkajs_dir / "transactions.js"
    script.write_text(KAFKAJS_TXN)
    r = subprocess.run([shutil.which("node"), str(script), bootstrap, topic], cwd=kafkajs_dir,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    kept = [b"aio-kept-%d" % i for i in range(3)] + [b"js-kept-%d" % i for i in range(3)]
    dropped = [b"aio-dropped-%d" % i for i in range(3)] + [b"js-dropped-%d" % i for i in range(3)]
    assert read_partitions(bootstrap, "read_committed", expect=6, topics=[topic]) == \
        {(topic, 0): kept}
    assert read_partitions(bootstrap, "read_uncommitted", expect=12, topics=[topic]) == \
        {(topic, 0): kept[:3] + dropped[:3] + kept[3:] + dropped[3:]}
